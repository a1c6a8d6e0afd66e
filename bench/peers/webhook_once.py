#!/usr/bin/env python3
"""Python peer of `webhook-receiver --event-file F` (one delivery per process).

Does per invocation what the Swift receiver does: read the event JSON file, extract the raw body
(`body` text, or `bodyBase64`), verify X-WC-Webhook-Signature = base64(HMAC-SHA256(secret, raw
body)) in constant time, parse the JSON, and durably store one record: sqlite3 with
journal_mode=WAL, synchronous=FULL, INSERT OR IGNORE on dedupe key = sha256(raw body), commit.
Prints one JSON line and exits 0; exits 1 on a bad signature or body.

Usage: webhook_once.py --event-file F --store PATH.sqlite   (secret: env WC_WEBHOOK_SECRET)
Stdlib only; deliberately no argparse so the peer's start-up is not padded.
"""
import base64
import hashlib
import hmac
import json
import os
import sqlite3
import sys
import time


def arg(name):
    argv = sys.argv
    if name not in argv or argv.index(name) + 1 >= len(argv):
        sys.exit(f"usage: {argv[0]} --event-file F --store PATH")
    return argv[argv.index(name) + 1]


def main():
    secret = os.environ.get("WC_WEBHOOK_SECRET", "wcpeer-webhook-secret-1").encode()
    with open(arg("--event-file"), "rb") as f:
        event = json.loads(f.read())
    if "bodyBase64" in event:
        raw = base64.b64decode(event["bodyBase64"])
    else:
        raw = event["body"].encode("utf-8")
    headers = {k.lower(): v for k, v in event.get("headers", {}).items()}

    expected = base64.b64encode(hmac.new(secret, raw, hashlib.sha256).digest())
    given = headers.get("x-wc-webhook-signature", "").encode()
    if not hmac.compare_digest(expected, given):
        print(json.dumps({"status": "rejected", "reason": "signature"}))
        return 1
    try:
        doc = json.loads(raw)
    except ValueError:
        print(json.dumps({"status": "rejected", "reason": "body"}))
        return 1

    key = hashlib.sha256(raw).hexdigest()
    db = sqlite3.connect(arg("--store"), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS deliveries (dedupe_key TEXT PRIMARY KEY, delivery_id TEXT,"
        " topic TEXT, resource_id INTEGER, received_at REAL, body BLOB)"
    )
    db.execute("BEGIN")
    cur = db.execute(
        "INSERT OR IGNORE INTO deliveries VALUES (?, ?, ?, ?, ?, ?)",
        (key, headers.get("x-wc-webhook-delivery-id"), headers.get("x-wc-webhook-topic"),
         doc.get("id"), time.time(), raw),
    )
    db.execute("COMMIT")
    db.close()
    print(json.dumps({"status": "accepted" if cur.rowcount == 1 else "duplicate", "dedupeKey": key}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
