#!/usr/bin/env python3
"""Builds functions/webhook-receiver/events/ from the real WooCommerce captures.

Each capture (Sources/ConnectorSamples/Captures/woocommerce-real/deliveries/*.json, copied from
shared/fixtures/woocommerce-real/deliveries) becomes a captured-request event for once mode:
{"description", "method", "path", "headers", "bodyBase64"} aimed at the documented local test
connection `local`. Two extra events show the rejections: a forged signature and another store.
The exact body bytes are kept (bodyBase64), so the recorded signatures still verify.
"""
import base64, json, os, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
src = os.path.join(root, "Sources/ConnectorSamples/Captures/woocommerce-real/deliveries")
dst = os.path.join(root, "functions/webhook-receiver/events")
os.makedirs(dst, exist_ok=True)

def event(description, headers, body):
    return {
        "description": description,
        "method": "POST",
        "path": "/webhooks/woocommerce/local",
        "headers": headers,
        "bodyBase64": base64.b64encode(body).decode(),
    }

def write(name, payload):
    with open(os.path.join(dst, name), "w") as f:
        json.dump(payload, f, indent=1)
        f.write("\n")

keep = {"content-type", "user-agent"}
for name in sorted(os.listdir(src)):
    if not name.endswith(".json"):
        continue
    capture = json.load(open(os.path.join(src, name)))
    req = capture["request"]
    headers = {k: v for k, v in req["headers"] if k.lower().startswith("x-wc-webhook-") or k.lower() in keep}
    body = base64.b64decode(req["raw_body_base64"])
    write(name, event("Real WooCommerce 10.0.2 delivery: " + capture["description"], headers, body))

paid = json.load(open(os.path.join(src, "05-order-updated-set-paid.json")))["request"]
headers = {k: v for k, v in paid["headers"] if k.lower().startswith("x-wc-webhook-") or k.lower() in keep}
body = bytearray(base64.b64decode(paid["raw_body_base64"]))
body[10] ^= 0x01
write("forged-signature.json", event("Delivery 05 with one body byte flipped: answered 401, exit 65, nothing stored but an audit line.", headers, bytes(body)))
other = dict(headers)
other["X-WC-Webhook-Source"] = "https://staging.example.com/"
write("wrong-source.json", event("Delivery 05 signed correctly but from another store URL (a cloned staging site): answered 403, exit 65.", other, base64.b64decode(paid["raw_body_base64"])))
print("wrote", len(os.listdir(dst)), "files to", os.path.relpath(dst, root))
