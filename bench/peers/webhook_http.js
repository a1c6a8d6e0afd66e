#!/usr/bin/env node
// Node.js peer of `MLC_MODE=http webhook-receiver`: node:http + an fsync'd append-only file.
//
// POST /webhooks/woocommerce/bench verifies X-WC-Webhook-Signature = base64(HMAC-SHA256(secret,
// raw body)) in constant time, parses the JSON, skips bodies already stored (in-memory set of
// sha256(raw body), the dedupe key), otherwise appends one JSON line to the store file and
// fsyncs it (async fs calls, so up to libuv's thread-pool size of fsyncs run at once), and only
// then answers 200. GET /health/ready answers 200. SIGTERM stops it.
//
// Usage: node webhook_http.js --port N --store PATH.jsonl   (secret: env WC_WEBHOOK_SECRET)
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');

const WEBHOOK_PATH = '/webhooks/woocommerce/bench';
const secret = process.env.WC_WEBHOOK_SECRET || 'wcpeer-webhook-secret-1';

function arg(name) {
  const i = process.argv.indexOf(name);
  if (i < 0 || i + 1 >= process.argv.length) {
    console.error('usage: webhook_http.js --port N --store PATH');
    process.exit(2);
  }
  return process.argv[i + 1];
}

const fd = fs.openSync(arg('--store'), 'a');
const seen = new Set();

function reply(res, status, payload) {
  const body = JSON.stringify(payload);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function handleWebhook(req, res, raw) {
  const expected = Buffer.from(crypto.createHmac('sha256', secret).update(raw).digest('base64'));
  const given = Buffer.from(String(req.headers['x-wc-webhook-signature'] || ''));
  if (given.length !== expected.length || !crypto.timingSafeEqual(expected, given)) {
    return reply(res, 401, { status: 'rejected', reason: 'signature' });
  }
  let doc;
  try {
    doc = JSON.parse(raw);
  } catch {
    return reply(res, 400, { status: 'rejected', reason: 'body' });
  }
  const key = crypto.createHash('sha256').update(raw).digest('hex');
  if (seen.has(key)) return reply(res, 200, { status: 'duplicate' });
  seen.add(key);
  const record = JSON.stringify({
    dedupeKey: key,
    deliveryId: req.headers['x-wc-webhook-delivery-id'],
    topic: req.headers['x-wc-webhook-topic'],
    resourceId: doc && doc.id,
    receivedAt: Date.now() / 1000,
    body: raw.toString('utf8'),
  }) + '\n';
  fs.write(fd, record, (err) => {
    if (err) { seen.delete(key); return reply(res, 500, { status: 'error' }); }
    fs.fsync(fd, (err2) => {
      if (err2) { seen.delete(key); return reply(res, 500, { status: 'error' }); }
      reply(res, 200, { status: 'accepted' });
    });
  });
}

const server = http.createServer({ noDelay: true, keepAliveTimeout: 30000 }, (req, res) => {
  if (req.method === 'GET' && req.url === '/health/ready') return reply(res, 200, { status: 'ready' });
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.method !== 'POST' || req.url !== WEBHOOK_PATH) return reply(res, 404, { status: 'not found' });
    handleWebhook(req, res, Buffer.concat(chunks));
  });
});

server.listen(Number(arg('--port')), '127.0.0.1');
process.on('SIGTERM', () => {
  server.close(() => { fs.closeSync(fd); process.exit(0); });
  server.closeAllConnections();
});
