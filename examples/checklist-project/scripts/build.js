#!/usr/bin/env node
// Bundles src/ into dist/app.js (CommonJS modules wrapped in a tiny loader) and reports problems
// the way bundlers do: a "WARNING" line per deprecated API used. A build.config.json may ask for
// vendored code to be inlined (padKb), which is how the oversized-bundle variant gets heavy.
"use strict";

const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const src = path.join(root, "src");
const dist = path.join(root, "dist");
const config = fs.existsSync(path.join(root, "build.config.json"))
  ? JSON.parse(fs.readFileSync(path.join(root, "build.config.json"), "utf8"))
  : {};

fs.rmSync(dist, { recursive: true, force: true });
fs.mkdirSync(dist, { recursive: true });

const modules = fs.readdirSync(src).filter((f) => f.endsWith(".js")).sort();
let warnings = 0;
const parts = ["const __m = {};"];
for (const name of modules) {
  const code = fs.readFileSync(path.join(src, name), "utf8");
  if (/new Buffer\(/.test(code)) {
    console.log(`WARNING in src/${name}: new Buffer() is deprecated (DEP0005), use Buffer.from()`);
    warnings += 1;
  }
  parts.push(`__m[${JSON.stringify(name)}] = (function (module, exports) {\n${code}\nreturn module.exports;\n})({ exports: {} }, {});`);
}
if (config.padKb) {
  parts.push(`/* vendored */ const __vendor = ${JSON.stringify("x".repeat(config.padKb * 1024))};`);
}
fs.writeFileSync(path.join(dist, "app.js"), parts.join("\n") + "\n");
const kb = Math.ceil(fs.statSync(path.join(dist, "app.js")).size / 1024);
console.log(`built dist/app.js (${kb} KB) from ${modules.length} modules, ${warnings} warning${warnings === 1 ? "" : "s"}`);
