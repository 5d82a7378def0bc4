/** Scratch of one row's exponentials (reused across calls: no allocation per token). */
let exps = new Float32Array(0);

/**
 * Draws an index from softmax(`logits`) with one uniform number `u` in [0, 1): the first index
 * whose cumulative probability exceeds `u` (the last index of non-zero probability when rounding
 * leaves the total short of `u`). Never an index of probability 0.
 */
export function sampleCategorical(logits: Float32Array, u: number): number {
  // The probabilities `softmax` gives (float32), without a new array of the vocabulary's size per token.
  if (exps.length < logits.length) exps = new Float32Array(logits.length);
  const e = exps;
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const x = Math.exp(logits[i]! - max);
    e[i] = x;
    sum += x;
  }
  let cumulative = 0;
  let last = 0;
  for (let i = 0; i < logits.length; i++) {
    const p = Math.fround(e[i]! / sum);
    if (p === 0) continue;
    last = i;
    cumulative += p;
    if (u < cumulative) return i;
  }
  return last;
}
