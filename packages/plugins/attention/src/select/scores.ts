/**
 * Pure scoring over plain arrays: attention received per key/value head (H2O), key L2 norms,
 * logit entropy and repetition. Tensor layouts are the exported graph's:
 * attentions `[batch, heads, seq, past + seq]`, keys `[batch, kvHeads, slots, headDim]`.
 */

/**
 * Which batch rows of a step count, and which of their positions are padding: a
 * `ForwardObservation` or `RoutingContext` is one (both fields absent: every row counts, none is
 * padded).
 */
export interface BatchRows {
  /** Left padding per row: absolute positions `0…padding[r] − 1` of row `r` are padding. */
  readonly padding?: readonly number[];
  /** Per row: `false` for a row that has finished (fed padding this step), which is left out. */
  readonly active?: readonly boolean[];
}

/** Whether row `r` counts: it was fed real ids this step (`active` absent: every row does). */
export const rowActive = (rows: BatchRows | undefined, r: number): boolean => rows?.active?.[r] !== false;

/** Row `r`'s left padding (0 when `padding` is absent). */
export const rowPadding = (rows: BatchRows | undefined, r: number): number => rows?.padding?.[r] ?? 0;

/**
 * Adds the attention every cached slot received in one layer to `into` (one array per
 * key/value head, length `past + seq`). Query heads of a grouped-query group share their
 * key/value head (query head `h` reads kv head `floor(h / (heads / kvHeads))`), so their
 * attention is summed into it; so are the `seq` query rows and the first `rows` batch rows.
 * With `only` (e.g. the step's observation), rows that are not active are left out, and so are
 * the padding queries of a step fed from position 0 (nothing cached before it: `total === seq`).
 */
export function accumulateAttention(
  into: readonly Float64Array[],
  data: Float32Array,
  dims: readonly number[],
  rows: number = dims[0]!,
  only?: BatchRows,
): void {
  const [, heads, seq, total] = dims as [number, number, number, number];
  const kvHeads = into.length;
  if (heads % kvHeads !== 0) throw new Error(`${heads} attention heads do not split into ${kvHeads} key/value heads`);
  const group = heads / kvHeads;
  for (let b = 0; b < rows; b++) {
    if (!rowActive(only, b)) continue;
    // Queries at positions below the row's padding exist only when the step starts at position 0.
    const first = total === seq ? Math.min(seq, rowPadding(only, b)) : 0;
    for (let h = 0; h < heads; h++) {
      const target = into[Math.floor(h / group)]!;
      if (target.length !== total) throw new Error(`attention covers ${total} slots but ${target.length} are tracked`);
      for (let q = first; q < seq; q++) {
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
  for (let b = 0; b < rows; b++) addRowKeyNorms(data, heads, slots, dim, b, out);
  return out;
}

/**
 * L2 norm of every cached key per batch row and key/value head: `out[row][h][slot]`, added to
 * `into` when given (to sum layers).
 */
export function rowKeyNorms(data: Float32Array, dims: readonly number[], into?: readonly (readonly Float64Array[])[]): Float64Array[][] {
  const [rows, heads, slots, dim] = dims as [number, number, number, number];
  const out = into ? into.map((row) => [...row]) : Array.from({ length: rows }, () => Array.from({ length: heads }, () => new Float64Array(slots)));
  for (let b = 0; b < rows; b++) addRowKeyNorms(data, heads, slots, dim, b, out[b]!);
  return out;
}

/** Adds the L2 norm of each of batch row `b`'s cached keys to `targets[h][slot]`. */
function addRowKeyNorms(data: Float32Array, heads: number, slots: number, dim: number, b: number, targets: readonly Float64Array[]): void {
  for (let h = 0; h < heads; h++) {
    const target = targets[h]!;
    for (let s = 0; s < slots; s++) {
      const base = ((b * heads + h) * slots + s) * dim;
      let sum = 0;
      for (let d = 0; d < dim; d++) sum += data[base + d]! * data[base + d]!;
      target[s]! += Math.sqrt(sum);
    }
  }
}

/**
 * Per key/value head and slot: the mean of `byRow[row][h][slot]` over the rows that count, i.e.
 * active rows in which the slot is not padding (its absolute position, `positions[h][slot]`, is
 * at or past the row's padding). `empty` where no row counts the slot.
 */
export function meanOverRows(
  byRow: readonly (readonly Float64Array[])[],
  positions: readonly (readonly number[])[],
  rows: BatchRows | undefined,
  empty: number,
): Float64Array[] {
  const heads = byRow[0]?.length ?? 0;
  const slots = byRow[0]?.[0]?.length ?? 0;
  const out: Float64Array[] = [];
  for (let h = 0; h < heads; h++) {
    const mean = new Float64Array(slots);
    const at = positions[h] ?? positions[0] ?? [];
    for (let s = 0; s < slots; s++) {
      let sum = 0;
      let count = 0;
      for (let b = 0; b < byRow.length; b++) {
        if (!rowActive(rows, b) || (at[s] ?? s) < rowPadding(rows, b)) continue;
        sum += byRow[b]![h]![s]!;
        count++;
      }
      mean[s] = count > 0 ? sum / count : empty;
    }
    out.push(mean);
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
