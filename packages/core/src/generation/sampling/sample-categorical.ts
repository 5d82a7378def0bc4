import { softmax } from './softmax.js';

/** Scratch for one row's probabilities (reused across calls: no allocation per token). */
let scratch = new Float32Array(0);

/**
 * Draws an index from softmax(`logits`) with one uniform number `u` in [0, 1): the first index
 * whose cumulative probability exceeds `u` (the last index of non-zero probability when rounding
 * leaves the total short of `u`). Never an index of probability 0.
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
  return last;
}
