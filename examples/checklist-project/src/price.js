"use strict";

/**
 * Price of `qty` items in cents, with a volume discount from 10 items on.
 * @param {number} unitCents
 * @param {number} qty
 * @returns {number}
 */
function total(unitCents, qty) {
  const gross = unitCents * qty;
  return qty >= 10 ? Math.round(gross * 0.9) : gross;
}

module.exports = { total };
