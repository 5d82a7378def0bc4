/** Softmax of `logits` into `out` (allocated when absent); -Infinity becomes probability 0. */
export function softmax(logits: Float32Array, out: Float32Array = new Float32Array(logits.length)): Float32Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = Math.exp(logits[i]! - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < out.length; i++) out[i] = out[i]! / sum;
  return out;
}

/** log(sum(exp(logits))), computed stably; `logits[id] - logSumExp(logits)` is a log probability. */
export function logSumExp(logits: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  return max + Math.log(sumExp(logits, max));
}

/**
 * `logits[id] - logSumExp(logits)` under the rule by which the picks treat a row that is not all
 * finite (`settleNonFinite`): NaN logits have probability 0, and where any logit is +Infinity
 * those share all the probability. So a token picked from such a row gets a log probability (0, or
 * −log of the +Infinity count), not NaN; a NaN token, never picked, −Infinity.
 */
export function logProbability(logits: Float32Array, id: number): number {
  const own = logits[id]!;
  let max = -Infinity;
  let infinite = 0;
  let nan = false;
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i]!;
    if (x > max) max = x;
    if (x === Infinity) infinite++;
    else if (x !== x) nan = true;
  }
  if (infinite > 0) return own !== Infinity ? -Infinity : infinite === 1 ? 0 : -Math.log(infinite);
  if (!nan) return own - (max + Math.log(sumExp(logits, max)));
  if (own !== own || max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i]!;
    if (x === x) sum += Math.exp(x - max);
  }
  return own - (max + Math.log(sum));
}

function sumExp(logits: Float32Array, max: number): number {
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  return sum;
}
