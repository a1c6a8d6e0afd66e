#!/usr/bin/env node
// Node.js peer of `webhook-receiver --event-file F` (one delivery per process).
//
// Per invocation: read the event JSON file, extract the raw body (`body` text or `bodyBase64`),
// verify X-WC-Webhook-Signature = base64(HMAC-SHA256(secret, raw body)) in constant time, parse
// the JSON, and durably store one record: append one JSON line (dedupe key = sha256 of the body)
// to the store file and fsync it. Prints one JSON line, exits 0; exits 1 on a bad signature/body.
// (A one-shot process has no index to deduplicate against; the HTTP peer keeps one in memory.)
//
// Usage: node webhook_once.js --event-file F --store PATH.jsonl   (secret: env WC_WEBHOOK_SECRET)
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');

function arg(name) {
  const i = process.argv.indexOf(name);
  if (i < 0 || i + 1 >= process.argv.length) {
    console.error('usage: webhook_once.js --event-file F --store PATH');
    process.exit(2);
  }
  return process.argv[i + 1];
}

function main() {
  const secret = process.env.WC_WEBHOOK_SECRET || 'wcpeer-webhook-secret-1';
  const event = JSON.parse(fs.readFileSync(arg('--event-file')));
  const raw = event.bodyBase64 !== undefined
    ? Buffer.from(event.bodyBase64, 'base64')
    : Buffer.from(event.body, 'utf8');
  const headers = {};
  for (const [k, v] of Object.entries(event.headers || {})) headers[k.toLowerCase()] = v;

  const expected = Buffer.from(crypto.createHmac('sha256', secret).update(raw).digest('base64'));
  const given = Buffer.from(String(headers['x-wc-webhook-signature'] || ''));
  if (given.length !== expected.length || !crypto.timingSafeEqual(expected, given)) {
    console.log(JSON.stringify({ status: 'rejected', reason: 'signature' }));
    return 1;
  }
  let doc;
  try {
    doc = JSON.parse(raw);
  } catch {
    console.log(JSON.stringify({ status: 'rejected', reason: 'body' }));
    return 1;
  }
  const key = crypto.createHash('sha256').update(raw).digest('hex');
  const record = JSON.stringify({
    dedupeKey: key,
    deliveryId: headers['x-wc-webhook-delivery-id'],
    topic: headers['x-wc-webhook-topic'],
    resourceId: doc.id,
    receivedAt: Date.now() / 1000,
    body: raw.toString('utf8'),
  }) + '\n';
  const fd = fs.openSync(arg('--store'), 'a');
  fs.writeSync(fd, record);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  console.log(JSON.stringify({ status: 'accepted', dedupeKey: key }));
  return 0;
}

process.exitCode = main();
