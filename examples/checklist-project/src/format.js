"use strict";

/**
 * @param {number} cents
 * @returns {string}
 */
function euros(cents) {
  return `€${(cents / 100).toFixed(2)}`;
}

module.exports = { euros };
