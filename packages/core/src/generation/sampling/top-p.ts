import { softmax } from './softmax.js';

/**
 * Nucleus truncation: keeps the smallest set of most likely tokens whose probabilities sum to at
 * least `p` (always at least one) and sets the rest to -Infinity.
 */
export function applyTopP(logits: Float32Array, p: number): void {
  if (p >= 1) return;
  const probs = softmax(logits);
  const order = Array.from(probs.keys()).sort((a, b) => probs[b]! - probs[a]!);
  let cumulative = 0;
  let keep = 0;
  while (keep < order.length) {
    cumulative += probs[order[keep]!]!;
    keep++;
    if (cumulative >= p) break;
  }
  for (let i = keep; i < order.length; i++) logits[order[i]!] = -Infinity;
}
