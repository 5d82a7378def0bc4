import { settleNonFinite } from './settle-non-finite.js';
import { softmax } from './softmax.js';

/** Scratch for one row's probabilities (reused across calls: no allocation per token). */
let scratch = new Float32Array(0);

/**
 * Draws an index from softmax(`logits`) with one uniform number `u` in [0, 1): the first index
 * whose cumulative probability exceeds `u` (the last index of non-zero probability when rounding
 * leaves the total short of `u`). Never an index of probability 0. Non-finite logits are treated
 * as {@link settleNonFinite} settles them (NaN is never drawn; +Infinity logits share all the
 * probability); when no logit is left to draw (every one -Infinity or NaN) the result is -1.
 * `logits` is not modified.
 */
export function sampleCategorical(logits: Float32Array, u: number): number {
  if (scratch.length < logits.length) scratch = new Float32Array(logits.length);
  const probs = softmax(logits, scratch.subarray(0, logits.length));
  let cumulative = 0;
  let last = 0;
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i]!;
    if (p === 0) continue;
    last = i;
    cumulative += p;
    if (u < cumulative) return i;
  }
  // A finite total that rounding left short of u; a NaN one means a NaN or ±Infinity logit.
  return cumulative === cumulative ? last : drawSettled(logits, u);
}

/** The draw from a settled copy of `logits` (off the common path: only rows holding non-finite logits). */
function drawSettled(logits: Float32Array, u: number): number {
  const settled = logits.slice();
  settleNonFinite(settled);
  let finite = false;
  for (let i = 0; i < settled.length && !finite; i++) finite = settled[i]! > -Infinity;
  return finite ? sampleCategorical(settled, u) : -1;
}
