'use strict';
// The background worker beside the web app: logs a JSON line per job; WORKER_CRASH=1 makes a
// release whose worker crash-loops (exits soon after every start).
const logger = require('pino')();
const { version } = require('./package.json');

if (process.env.WORKER_CRASH === '1') {
  logger.fatal({ version }, 'worker cannot start: missing queue configuration');
  setTimeout(() => process.exit(1), 200);
} else {
  logger.info({ version }, 'worker started');
  let job = 0;
  setInterval(() => { job += 1; logger.info({ job }, 'job processed'); }, 1000);
  process.on('SIGINT', () => process.exit(0));
}
