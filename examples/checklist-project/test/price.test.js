"use strict";

const test = require("node:test");
const assert = require("node:assert");
const { total } = require("../src/price.js");
const { euros } = require("../src/format.js");

test("no discount below ten items", () => {
  assert.strictEqual(total(250, 4), 1000);
});

test("ten percent off from ten items", () => {
  assert.strictEqual(total(100, 10), 900);
});

test("euros", () => {
  assert.strictEqual(euros(1234), "€12.34");
});
