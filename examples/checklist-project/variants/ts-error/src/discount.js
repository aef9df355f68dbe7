"use strict";

/** @type {number} */
const rate = "ten percent";

module.exports = { rate };
