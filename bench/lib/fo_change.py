#!/usr/bin/env python3
"""Change the sales price of the first --count generated simple items (BENCH-00000, ...) in the F&O
sandbox that `mlc sandbox --seed-catalog` serves, through its OData API the way a person editing F&O
would: a client-credentials token from its Entra ID endpoint, then one PATCH per released product.

Reads the connection file `mlc sandbox --write-connection` wrote. Loopback only, bounded (10 s per
request). Prints one JSON line: {"changed": N, "seconds": S}. Stdlib only.
"""
import argparse
import json
import time
import urllib.parse
import urllib.request


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--connection", required=True, help="connection file written by mlc sandbox --write-connection")
    ap.add_argument("--count", type=int, required=True)
    args = ap.parse_args()
    with open(args.connection) as f:
        fo = json.load(f)["dynamics"]
    base, authority = fo["environmentURL"].rstrip("/"), fo["authorityHost"].rstrip("/")
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": fo["clientId"],
                                   "client_secret": fo["clientSecret"], "scope": base + "/.default"}).encode()
    with urllib.request.urlopen(urllib.request.Request(f"{authority}/{fo['tenantId']}/oauth2/v2.0/token", data=form), timeout=10) as r:
        token = json.load(r)["access_token"]
    started = time.monotonic()
    entity = fo.get("legalEntity", "usmf")
    for n in range(args.count):
        item = f"BENCH-{n:05d}"
        # The seed prices item n at (5 + n % 50).99; the change adds 1.00.
        body = json.dumps({"SalesPrice": 6 + n % 50 + 0.99}).encode()
        url = f"{base}/data/ReleasedProductsV2(dataAreaId='{entity}',ItemNumber='{item}')"
        req = urllib.request.Request(url, data=body, method="PATCH", headers={
            "Authorization": "Bearer " + token, "Content-Type": "application/json", "OData-Version": "4.0"})
        with urllib.request.urlopen(req, timeout=10) as r:
            if r.status not in (200, 204):
                raise SystemExit(f"PATCH {item}: HTTP {r.status}")
    print(json.dumps({"changed": args.count, "seconds": round(time.monotonic() - started, 3)}))


if __name__ == "__main__":
    main()
