/**
 * Pure scoring over plain arrays: attention received per key/value head (H2O), key L2 norms,
 * logit entropy and repetition. Tensor layouts are the exported graph's:
 * attentions `[batch, heads, seq, past + seq]`, keys `[batch, kvHeads, slots, headDim]`.
 */

/**
 * Adds the attention every cached slot received in one layer to `into` (one array per
 * key/value head, length `past + seq`). Query heads of a grouped-query group share their
 * key/value head (query head `h` reads kv head `floor(h / (heads / kvHeads))`), so their
 * attention is summed into it; so are the `seq` query rows and the batch rows in `rows`.
 */
export function accumulateAttention(
  into: readonly Float64Array[],
  data: Float32Array,
  dims: readonly number[],
  rows: number = dims[0]!,
): void {
  const [, heads, seq, total] = dims as [number, number, number, number];
  const kvHeads = into.length;
  if (heads % kvHeads !== 0) throw new Error(`${heads} attention heads do not split into ${kvHeads} key/value heads`);
  const group = heads / kvHeads;
  for (let b = 0; b < rows; b++) {
    for (let h = 0; h < heads; h++) {
      const target = into[Math.floor(h / group)]!;
      if (target.length !== total) throw new Error(`attention covers ${total} slots but ${target.length} are tracked`);
      for (let q = 0; q < seq; q++) {
        const base = ((b * heads + h) * seq + q) * total;
        for (let t = 0; t < total; t++) target[t]! += data[base + t]!;
      }
    }
  }
}

/**
 * L2 norm of every cached key, per key/value head: `out[h][slot]`, added to `into` when given
 * (to sum layers or batch rows). RoPE rotates pairs of dimensions, so norms do not depend on
 * the position a key was rotated to.
 */
export function keyNorms(data: Float32Array, dims: readonly number[], into?: readonly Float64Array[], rows: number = dims[0]!): Float64Array[] {
  const [, heads, slots, dim] = dims as [number, number, number, number];
  const out = into ? [...into] : Array.from({ length: heads }, () => new Float64Array(slots));
  for (let b = 0; b < rows; b++) {
    for (let h = 0; h < heads; h++) {
      const target = out[h]!;
      for (let s = 0; s < slots; s++) {
        const base = ((b * heads + h) * slots + s) * dim;
        let sum = 0;
        for (let d = 0; d < dim; d++) sum += data[base + d]! * data[base + d]!;
        target[s]! += Math.sqrt(sum);
      }
    }
  }
  return out;
}

/** Shannon entropy (nats) of softmax(logits). */
export function logitEntropy(logits: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let z = 0;
  for (let i = 0; i < logits.length; i++) z += Math.exp(logits[i]! - max);
  const logZ = Math.log(z);
  let h = 0;
  for (let i = 0; i < logits.length; i++) {
    const lp = logits[i]! - max - logZ;
    h -= Math.exp(lp) * lp;
  }
  return h;
}

/**
 * Fraction of the n-grams in `ids` that already occurred earlier in `ids` (0: no repetition,
 * → 1: a loop). `ids` shorter than `n + 1` count as not repeating.
 */
export function repetitionRate(ids: readonly number[], n = 3): number {
  const total = ids.length - n + 1;
  if (total < 2) return 0;
  const seen = new Set<string>();
  let repeated = 0;
  for (let i = 0; i < total; i++) {
    const key = ids.slice(i, i + n).join(',');
    if (seen.has(key)) repeated++;
    else seen.add(key);
  }
  return repeated / total;
}
