"use strict";

const test = require("node:test");
const assert = require("node:assert");
const { total } = require("../src/price.js");

test("fifteen percent off from twenty items", () => {
  assert.strictEqual(total(100, 20), 1700);
});
