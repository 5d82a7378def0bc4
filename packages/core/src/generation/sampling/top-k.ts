/** Keeps the `k` largest logits (ties at the threshold kept) and sets the rest to -Infinity. */
export function applyTopK(logits: Float32Array, k: number): void {
  if (k <= 0 || k >= logits.length) return;
  const threshold = Float32Array.from(logits).sort()[logits.length - k]!;
  for (let i = 0; i < logits.length; i++) if (logits[i]! < threshold) logits[i] = -Infinity;
}
