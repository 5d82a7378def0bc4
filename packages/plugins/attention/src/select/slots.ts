/**
 * Pure slot selection over plain arrays: which cache slots a router keeps. Every function
 * returns ascending slot indices, or `undefined` when the cache fits and nothing is evicted.
 * Slots are the store's current slots (0 = oldest kept); positions are absolute token indices.
 */

/** `[from, from + 1, …, to - 1]`. */
export function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) out.push(i);
  return out;
}

/** The last `window` slots (sliding window). */
export function windowSlots(length: number, window: number): number[] | undefined {
  if (length <= window) return undefined;
  return range(length - window, length);
}

/** The first `sinks` slots plus the last `window` slots (StreamingLLM's attention sinks). */
export function sinkWindowSlots(length: number, sinks: number, window: number): number[] | undefined {
  if (length <= sinks + window) return undefined;
  return [...range(0, sinks), ...range(length - window, length)];
}

/**
 * Strided (dilated) attention: the last `window` slots, plus, among older slots, those whose
 * absolute position is a multiple of `stride`, the most recent `budget - window` of them.
 * `positions[slot]` is the slot's absolute position. Positions that are not multiples leave as
 * they slide out of the window; multiples leave once `budget - window` newer multiples exist,
 * so the kept set only ever shrinks by eviction (never needs an evicted slot back).
 */
export function stridedSlots(positions: readonly number[], budget: number, window: number, stride: number): number[] | undefined {
  const length = positions.length;
  if (length <= budget) return undefined;
  const far = budget - window;
  const older: number[] = [];
  for (let s = length - window - 1; s >= 0 && older.length < far; s--) {
    if (positions[s]! % stride === 0) older.push(s);
  }
  return [...older.reverse(), ...range(length - window, length)];
}

/**
 * H2O-style choice for one score list: the last `recent` slots, plus the `budget - recent`
 * older slots with the highest score (ties: the older slot wins, so results are deterministic).
 */
export function topWithRecent(scores: ArrayLike<number>, budget: number, recent: number): number[] | undefined {
  const length = scores.length;
  if (length <= budget) return undefined;
  const heavy = budget - recent;
  const candidates = range(0, length - recent);
  candidates.sort((a, b) => scores[b]! - scores[a]! || a - b);
  const kept = candidates.slice(0, heavy).sort((a, b) => a - b);
  return [...kept, ...range(length - recent, length)];
}

/** {@link topWithRecent} for every head: equal counts per head, different slots. */
export function perHeadTopWithRecent(scores: readonly ArrayLike<number>[], budget: number, recent: number): number[][] | undefined {
  if ((scores[0]?.length ?? 0) <= budget) return undefined;
  return scores.map((s) => topWithRecent(s, budget, recent)!);
}

/** Element-wise sum of per-head score lists (for one shared selection). */
export function sumHeads(scores: readonly ArrayLike<number>[]): Float64Array {
  const out = new Float64Array(scores[0]?.length ?? 0);
  for (const s of scores) for (let i = 0; i < out.length; i++) out[i]! += s[i]!;
  return out;
}

/** Keeps the selected entries of `values` (per-slot state follows an eviction). */
export function compact<T extends { length: number; [i: number]: number }>(values: T, slots: readonly number[], make: (n: number) => T): T {
  const out = make(slots.length);
  for (let i = 0; i < slots.length; i++) out[i] = values[slots[i]!]!;
  return out;
}
