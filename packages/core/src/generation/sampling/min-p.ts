import { softmax } from './softmax.js';

/** Min-p truncation: drops tokens whose probability is below `minP` times the top probability. */
export function applyMinP(logits: Float32Array, minP: number): void {
  if (minP <= 0) return;
  const probs = softmax(logits);
  let top = 0;
  for (const v of probs) if (v > top) top = v;
  const floor = top * minP;
  for (let i = 0; i < logits.length; i++) if (probs[i]! < floor) logits[i] = -Infinity;
}
