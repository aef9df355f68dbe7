'use strict';
// An Express-shaped JSON API without Express: pino logs one JSON object per line.
const http = require('http');
const logger = require('pino')();
const { version } = require('./package.json');

const PORT = Number(process.env.PORT || 3000);
const FAIL_RATE = Number(process.env.DEMO_FAIL_RATE || 0);

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer((req, res) => {
  const url = (req.url || '/').split('?')[0];
  const started = process.hrtime.bigint();
  res.on('finish', () => {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    logger.info({ method: req.method, url, status: res.statusCode, ms: Number(ms.toFixed(1)) }, 'request completed');
  });
  if (url === '/health') {
    send(res, 200, { status: 'ok' });
  } else if (url === '/api/status') {
    send(res, 200, { status: 'ok', version, pid: process.pid });
  } else if (FAIL_RATE > 0 && Math.random() < FAIL_RATE) {
    logger.error({ err: { type: 'Error', message: 'upstream timeout' }, url }, 'request errored');
    send(res, 500, { status: 'failed' });
  } else if (url === '/api/orders') {
    send(res, 200, { orders: [], version });
  } else {
    send(res, 404, { status: 'not found' });
  }
});

server.listen(PORT, '127.0.0.1', () => logger.info({ port: PORT, version }, 'listening'));
server.on('error', (err) => {
  logger.fatal({ err: { message: err.message } }, 'cannot listen');
  process.exit(1);
});
function shutdown() { server.close(() => process.exit(0)); setTimeout(() => process.exit(0), 3000).unref(); }
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
