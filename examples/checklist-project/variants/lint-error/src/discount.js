"use strict";

/** @param {number} code */
function isStaff(code) {
  return code == 7;
}

module.exports = { isStaff };
