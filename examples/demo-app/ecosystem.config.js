'use strict';
// pm2 ecosystem for the demo app.
//
// pm2 loads this file with require(), and require() resolves symlinks: started as
// <root>/current/ecosystem.config.js, __dirname is the REAL release directory
// (<root>/releases/<id>), not <root>/current. pm2 stores cwd and the script's path when it starts
// an app and a reload reuses them, so `cwd: __dirname` pins the app to its first release: measured
// with pm2 7.0.4, `pm2 reload <root>/current/ecosystem.config.js --update-env` after switching
// `current` kept serving the old release. So in the releases layout cwd is <root>/current: pm2
// stores the link, and the kernel resolves it each time a worker is spawned, i.e. at every reload.
// Anywhere else (in-place layout, a plain checkout) cwd is this file's directory.
const fs = require('fs');
const path = require('path');

function appDir() {
  if (path.basename(path.dirname(__dirname)) === 'releases') {
    const current = path.resolve(__dirname, '..', '..', 'current');
    if (fs.existsSync(current)) return current;
  }
  return __dirname;
}

const fork = process.env.SHIPDECK_EXEC_MODE === 'fork';

module.exports = {
  apps: [
    {
      name: process.env.SHIPDECK_APP_NAME || 'demo',
      script: 'server.js',
      cwd: appDir(),
      exec_mode: fork ? 'fork' : 'cluster',
      instances: fork ? 1 : 2,
      // The app calls process.send('ready') once it listens; pm2 waits up to listen_timeout.
      wait_ready: true,
      listen_timeout: 10000,
      // pm2 sends SIGINT, then SIGKILL after kill_timeout; the app drains within 3 s.
      kill_timeout: 5000,
      env: {
        PORT: process.env.PORT || 3000,
        NODE_ENV: 'production',
      },
    },
  ],
};
