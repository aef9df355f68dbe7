"use strict";

/** @param {number} cents */
function applyCoupon(cents) {
  console.log("coupon applied", cents);
  return cents - 100;
}

module.exports = { applyCoupon };
