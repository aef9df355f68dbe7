'use strict';
// The demo app shipdeck deploys: no dependencies, so `npm ci --production` needs no network.
// Log lines start with an ISO timestamp and a level; stdout carries INFO, stderr carries ERROR,
// which is what the console's log pane and error-rate counter read.
const http = require('http');
const { version } = require('./package.json');

const PORT = Number(process.env.PORT || 3000);
const HOST = '127.0.0.1';
// Must stay below the ecosystem's kill_timeout, so pm2 never has to SIGKILL a draining worker.
const DRAIN_MS = 3000;

// Misbehaviour for tests only, set by environment (all off by default):
//   DEMO_FAIL_RATE          share of requests (0..1) answered 500, with an ERROR line
//                           (/health and /api/status excepted: verify stays deterministic)
//   DEMO_EXTRA_LATENCY_MS   added to every request
//   DEMO_LEAK_KB_PER_REQ    memory kept forever per request (a leak)
//   DEMO_SILENT_FAILURE     "1": answers 200 but logs a WARN per request (logical drift)
//   DEMO_CPU_MS             busy CPU work per request (saturates an instance under load)
//   DEMO_HEALTH_FAIL        "1": /health answers 500 (a release that fails its health check)
const FAIL_RATE = Number(process.env.DEMO_FAIL_RATE || 0);
const EXTRA_LATENCY_MS = Number(process.env.DEMO_EXTRA_LATENCY_MS || 0);
const LEAK_KB = Number(process.env.DEMO_LEAK_KB_PER_REQ || 0);
const SILENT_FAILURE = process.env.DEMO_SILENT_FAILURE === '1';
const CPU_MS = Number(process.env.DEMO_CPU_MS || 0);
const HEALTH_FAIL = process.env.DEMO_HEALTH_FAIL === '1';
const leaked = [];
let requests = 0;

function burnCpu(ms) {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) x += Math.sqrt(x + 1);
  return x;
}

function log(level, message) {
  const line = `${new Date().toISOString()} ${level} ${message}\n`;
  (level === 'ERROR' ? process.stderr : process.stdout).write(line);
}

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer((req, res) => {
  const started = process.hrtime.bigint();
  const url = (req.url || '/').split('?')[0];
  res.on('finish', () => {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    log('INFO', `${req.method} ${url} ${res.statusCode} ${ms.toFixed(1)}ms pid=${process.pid}`);
  });
  if (EXTRA_LATENCY_MS > 0) {
    setTimeout(() => handle(req, res, url), EXTRA_LATENCY_MS);
  } else {
    handle(req, res, url);
  }
});

function handle(req, res, url) {
  requests += 1;
  if (LEAK_KB > 0) leaked.push(Buffer.alloc(LEAK_KB * 1024, requests % 256));
  if (CPU_MS > 0) burnCpu(CPU_MS);
  if (SILENT_FAILURE && url !== '/health') {
    log('WARN', `price lookup failed for sku=${1000 + (requests % 97)}, using 0`);
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, { status: 'method not allowed' });
  } else if (url === '/health') {
    if (HEALTH_FAIL) send(res, 500, { status: 'failing' });
    else send(res, 200, { status: 'ok' });
  } else if (FAIL_RATE > 0 && url !== '/api/status' && Math.random() < FAIL_RATE) {
    log('ERROR', `request failed: simulated error on GET ${url} pid=${process.pid}`);
    send(res, 500, { status: 'failed', message: 'simulated' });
  } else if (url === '/') {
    send(res, 200, { status: 'ok', version });
  } else if (url === '/api/status') {
    send(res, 200, { status: 'ok', version, pid: process.pid });
  } else if (url === '/boom') {
    log('ERROR', `boom: simulated failure on GET /boom pid=${process.pid}`);
    send(res, 500, { status: 'failed', message: 'boom' });
  } else {
    send(res, 404, { status: 'not found' });
  }
}

server.listen(PORT, HOST, () => {
  log('INFO', `demo app ${version} listening on http://${HOST}:${PORT} pid=${process.pid}`);
  // pm2 `wait_ready: true` waits for this message before it counts the process as up
  // (and, on a cluster reload, before it stops the old worker).
  if (typeof process.send === 'function') process.send('ready');
});

server.on('error', (err) => {
  log('ERROR', `cannot listen on ${HOST}:${PORT}: ${err.message}`);
  process.exit(1);
});

let stopping = false;
function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  log('INFO', `${signal} received, closing server pid=${process.pid}`);
  // close() stops accepting and ends idle keep-alive sockets; requests in flight finish first.
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), DRAIN_MS).unref();
}
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
