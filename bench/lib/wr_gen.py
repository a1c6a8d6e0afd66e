#!/usr/bin/env python3
"""Generate distinct, signed WooCommerce order.updated deliveries for the webhook-receiver bench.

Every generated delivery is the real order.updated body from bench/fixtures with the order id
(all five places it appears) and the order_key (both places) replaced, so each one has a
different raw body, a different sha256 dedupe key and its own X-WC-Webhook-Signature
(base64 of HMAC-SHA256(secret, raw body)) and X-WC-Webhook-Delivery-ID.

Outputs, under --out:
  template.txt        the body with @@ID@@ / @@KEY@@ markers (read by wrk-webhook.lua)
  static-headers.txt  the fixed delivery headers, one "Name: value" per line
  requests.tsv        --requests lines "id<TAB>key<TAB>delivery_id<TAB>signature" (for wrk)
  events/<n>.json     --events once-mode event files {"method","path","headers","body"}

Stdlib only.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import sys

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# (original text, templated text, expected occurrences) in the fixture body.
SUBSTITUTIONS = [
    ('{"id":32,', '{"id":@@ID@@,', 1),
    ('"number":"32"', '"number":"@@ID@@"', 1),
    ("order-pay\\/32\\/", "order-pay\\/@@ID@@\\/", 1),
    ("orders\\/32", "orders\\/@@ID@@", 2),
    ("wc_order_FFWfCg14HyzI5", "wc_order_@@KEY@@", 2),
]


def make_template(raw: str) -> str:
    for old, new, count in SUBSTITUTIONS:
        found = raw.count(old)
        if found != count:
            sys.exit(f"wr_gen: fixture body has {found} x {old!r}, expected {count}")
        raw = raw.replace(old, new)
    return raw


def order_key(order_id: int) -> str:
    digest = hashlib.sha256(f"mlc-bench-key:{order_id}".encode()).digest()
    return "".join(ALPHABET[b % 62] for b in digest[:13])


def delivery_id(order_id: int) -> str:
    return hashlib.sha256(f"mlc-bench-delivery:{order_id}".encode()).hexdigest()[:32]


def render(template: str, order_id: int, key: str) -> bytes:
    return template.replace("@@ID@@", str(order_id)).replace("@@KEY@@", key).encode()


def sign(secret: bytes, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fixtures", required=True, help="bench/fixtures directory")
    ap.add_argument("--out", required=True)
    ap.add_argument("--secret", default="wcpeer-webhook-secret-1")
    ap.add_argument("--path", default="/webhooks/woocommerce/bench")
    ap.add_argument("--events", type=int, default=0, help="once-mode event files to write")
    ap.add_argument("--events-first-id", type=int, default=500_000)
    ap.add_argument("--requests", type=int, default=0, help="wrk request lines to write")
    ap.add_argument("--requests-first-id", type=int, default=1_000_000)
    args = ap.parse_args()

    with open(os.path.join(args.fixtures, "wc-order-updated-19.body.json"), encoding="utf-8", newline="") as f:
        raw = f.read()
    with open(os.path.join(args.fixtures, "wc-order-updated-19.headers.json"), encoding="utf-8") as f:
        fixture = json.load(f)
    json.loads(raw)  # the fixture itself must be valid JSON
    template = make_template(raw)
    secret = args.secret.encode()
    static = {k: v for k, v in fixture["headers"].items()
              if k not in ("X-WC-Webhook-Signature", "X-WC-Webhook-Delivery-ID")}

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "template.txt"), "w", encoding="utf-8", newline="") as f:
        f.write(template)
    with open(os.path.join(args.out, "static-headers.txt"), "w", encoding="utf-8") as f:
        for k, v in static.items():
            f.write(f"{k}: {v}\n")

    # A sample of rendered bodies must stay valid JSON and keep the real size.
    sample = render(template, args.requests_first_id, order_key(args.requests_first_id))
    json.loads(sample)

    if args.requests:
        with open(os.path.join(args.out, "requests.tsv"), "w", encoding="ascii") as f:
            for i in range(args.requests):
                oid = args.requests_first_id + i
                key = order_key(oid)
                f.write(f"{oid}\t{key}\t{delivery_id(oid)}\t{sign(secret, render(template, oid, key))}\n")

    if args.events:
        events_dir = os.path.join(args.out, "events")
        os.makedirs(events_dir, exist_ok=True)
        for i in range(args.events):
            oid = args.events_first_id + i
            key = order_key(oid)
            body = render(template, oid, key)
            headers = dict(static)
            headers["X-WC-Webhook-Signature"] = sign(secret, body)
            headers["X-WC-Webhook-Delivery-ID"] = delivery_id(oid)
            event = {"method": "POST", "path": args.path, "headers": headers, "body": body.decode()}
            with open(os.path.join(events_dir, f"{i}.json"), "w", encoding="utf-8") as f:
                json.dump(event, f, ensure_ascii=False)

    print(json.dumps({"template_bytes": len(raw.encode()), "sample_body_bytes": len(sample),
                      "requests": args.requests, "events": args.events}))


if __name__ == "__main__":
    main()
