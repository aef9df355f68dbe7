// As most ecosystem files are written: no cwd, paths relative to this file.
module.exports = {
  apps: [
    {
      name: 'orders',
      script: 'server.js',
      exec_mode: 'cluster',
      instances: 2,
      env: { PORT: process.env.PORT || 3000, NODE_ENV: 'production' },
    },
    {
      name: 'orders-worker',
      script: 'worker.js',
      exec_mode: 'fork',
      env: { NODE_ENV: 'production' },
    },
  ],
};
