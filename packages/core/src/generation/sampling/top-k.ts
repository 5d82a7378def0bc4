/** The k largest values seen so far, as a min-heap (reused across calls: no allocation per token). */
let heap = new Float32Array(64);

/**
 * Keeps the `k` largest logits and sets the rest to -Infinity; every logit equal to the k-th
 * largest is kept (as transformers' top-k keeps ties at the threshold), and NaN logits are
 * dropped. `k` of 0, or at least the vocabulary size, changes nothing.
 */
export function applyTopK(logits: Float32Array, k: number): void {
  if (k <= 0 || k >= logits.length) return;
  // The k-th largest value through a k-element min-heap: one pass over the row, and a sift only
  // for the few values that beat the smallest kept one (sorting a copy of the row cost ~11 ms per
  // token on a 128k vocabulary).
  if (heap.length < k) heap = new Float32Array(Math.max(k, heap.length * 2));
  const h = heap;
  let size = 0;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (size < k) {
      if (v !== v) continue; // NaN: never among the k
      let j = size++;
      while (j > 0) {
        const parent = (j - 1) >> 1;
        if (h[parent]! <= v) break;
        h[j] = h[parent]!;
        j = parent;
      }
      h[j] = v;
    } else if (v > h[0]!) {
      // Replaces the smallest kept value.
      let j = 0;
      for (;;) {
        let child = 2 * j + 1;
        if (child >= k) break;
        if (child + 1 < k && h[child + 1]! < h[child]!) child++;
        if (h[child]! >= v) break;
        h[j] = h[child]!;
        j = child;
      }
      h[j] = v;
    }
  }
  // Fewer than k values that are not NaN: all of them stay.
  const threshold = size < k ? -Infinity : h[0]!;
  for (let i = 0; i < logits.length; i++) if (!(logits[i]! >= threshold)) logits[i] = -Infinity;
}
