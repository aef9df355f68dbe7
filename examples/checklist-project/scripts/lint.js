#!/usr/bin/env node
// A tiny linter with two rules (eqeqeq, no-var), reporting like eslint's stylish formatter.
"use strict";

const fs = require("node:fs");
const path = require("node:path");

const RULES = [
  { id: "eqeqeq", re: /[^=!]==[^=]|!=[^=]/, message: "Expected '===' and '!==' instead of '==' and '!='" },
  { id: "no-var", re: /^\s*var\s/, message: "Unexpected var, use let or const instead" },
];

function files(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? files(p) : /\.(c|m)?js$/.test(e.name) ? [p] : [];
  });
}

let problems = 0;
for (const dir of process.argv.slice(2)) {
  for (const file of files(dir)) {
    const lines = fs.readFileSync(file, "utf8").split("\n");
    const found = [];
    lines.forEach((line, i) => {
      for (const rule of RULES) {
        if (rule.re.test(line)) found.push(`  ${i + 1}:1  error  ${rule.message}  ${rule.id}`);
      }
    });
    if (found.length) {
      console.log(`\n${file}\n${found.join("\n")}`);
      problems += found.length;
    }
  }
}
if (problems) {
  console.log(`\n✖ ${problems} problem${problems === 1 ? "" : "s"} (${problems} error${problems === 1 ? "" : "s"}, 0 warnings)`);
  process.exit(1);
}
