#!/usr/bin/env python3
"""Python peer of `MLC_MODE=http webhook-receiver`: http.server + sqlite3.

ThreadingHTTPServer (HTTP/1.1 keep-alive, a thread per connection). POST
/webhooks/woocommerce/bench verifies X-WC-Webhook-Signature = base64(HMAC-SHA256(secret, raw
body)) in constant time, parses the JSON, then INSERT OR IGNORE into sqlite (journal_mode=WAL,
synchronous=FULL) keyed by sha256(raw body) and commits, under one lock around the shared
connection, and only then answers 200. GET /health/ready answers 200. SIGTERM stops it.

Usage: webhook_http.py --port N --store PATH.sqlite   (secret: env WC_WEBHOOK_SECRET)
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import signal
import sqlite3
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WEBHOOK_PATH = "/webhooks/woocommerce/bench"
SECRET = os.environ.get("WC_WEBHOOK_SECRET", "wcpeer-webhook-secret-1").encode()
LOCK = threading.Lock()
DB = None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):  # no per-request access log
        pass

    def reply(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/health/ready":
            self.reply(200, {"status": "ready"})
        else:
            self.reply(404, {"status": "not found"})

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != WEBHOOK_PATH:
            return self.reply(404, {"status": "not found"})
        expected = base64.b64encode(hmac.new(SECRET, raw, hashlib.sha256).digest())
        given = self.headers.get("X-WC-Webhook-Signature", "").encode()
        if not hmac.compare_digest(expected, given):
            return self.reply(401, {"status": "rejected", "reason": "signature"})
        try:
            doc = json.loads(raw)
        except ValueError:
            return self.reply(400, {"status": "rejected", "reason": "body"})
        key = hashlib.sha256(raw).hexdigest()
        row = (key, self.headers.get("X-WC-Webhook-Delivery-ID"), self.headers.get("X-WC-Webhook-Topic"),
               doc.get("id") if isinstance(doc, dict) else None, time.time(), raw)
        with LOCK:
            DB.execute("BEGIN")
            cur = DB.execute("INSERT OR IGNORE INTO deliveries VALUES (?, ?, ?, ?, ?, ?)", row)
            DB.execute("COMMIT")
        self.reply(200, {"status": "accepted" if cur.rowcount == 1 else "duplicate"})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def handle_error(self, request, client_address):
        # A load generator closing keep-alive connections at the end of a run is not an error.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def main():
    global DB
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--store", required=True)
    args = ap.parse_args()
    DB = sqlite3.connect(args.store, isolation_level=None, check_same_thread=False)
    DB.execute("PRAGMA journal_mode=WAL")
    DB.execute("PRAGMA synchronous=FULL")
    DB.execute(
        "CREATE TABLE IF NOT EXISTS deliveries (dedupe_key TEXT PRIMARY KEY, delivery_id TEXT,"
        " topic TEXT, resource_id INTEGER, received_at REAL, body BLOB)"
    )
    server = Server(("127.0.0.1", args.port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    try:
        server.serve_forever()
    finally:
        server.server_close()
        DB.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
