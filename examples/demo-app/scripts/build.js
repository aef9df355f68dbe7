'use strict';
// A small but real build step: record what was built, so a deploy can check the
// build ran in the release it switches to (dist/build-info.json).
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const dist = path.join(root, 'dist');
fs.mkdirSync(dist, { recursive: true });
const info = { name: pkg.name, version: pkg.version, builtAt: new Date().toISOString(), node: process.version };
fs.writeFileSync(path.join(dist, 'build-info.json'), JSON.stringify(info, null, 2) + '\n');
console.log(`built ${pkg.name}@${pkg.version} -> dist/build-info.json`);
