import { softmax } from './softmax.js';

/** Draws an index from softmax(`logits`) with one uniform number `u` in [0, 1). */
export function sampleCategorical(logits: Float32Array, u: number): number {
  const probs = softmax(logits);
  let cumulative = 0;
  let last = 0;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i]! === 0) continue;
    last = i;
    cumulative += probs[i]!;
    if (u < cumulative) return i;
  }
  return last;
}
