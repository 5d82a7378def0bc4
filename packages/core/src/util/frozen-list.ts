/**
 * A frozen list of `length` values, `value(i)` each, built with `push` from an empty literal.
 *
 * Used for the per-request lists the generation loop reads every step (padding, active rows)
 * instead of `Object.freeze(list.map(f))`: with that, V8 (Node 20) did not keep one map for the
 * frozen lists from request to request in a process generating one request after another. The
 * loop's optimized code then failed its map check ("wrong map" in runGeneration and stepFeeds with
 * `node --trace-deopt`) every few dozen requests for as long as the process ran, and was compiled
 * again each time, on a thread that competes with the forward pass for the CPU. Built this way,
 * the same process showed no such deoptimization after warm-up.
 */
export function frozenList<T>(length: number, value: (index: number) => T): readonly T[] {
  const list: T[] = [];
  for (let i = 0; i < length; i++) list.push(value(i));
  return Object.freeze(list);
}
