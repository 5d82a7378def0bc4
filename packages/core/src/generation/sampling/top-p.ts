/** Scratch of the finite logits and their unnormalised probabilities (reused: no allocation per token). */
let keys = new Float32Array(0);
let mass = new Float64Array(0);

/**
 * Nucleus truncation: keeps the smallest set of most likely tokens whose probabilities sum to at
 * least `p` (always at least one) and sets the rest to -Infinity. This is transformers' top-p: a
 * token stays when the tokens more likely than it sum to less than `p`. Among equally likely
 * tokens at the boundary the lower ids stay. NaN logits are dropped; `p` of 1 (or more), or a row
 * without a finite maximum, changes nothing.
 */
export function applyTopP(logits: Float32Array, p: number): void {
  if (p >= 1) return;
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  if (!(max > -Infinity && max < Infinity)) return;
  if (keys.length < logits.length) {
    keys = new Float32Array(logits.length);
    mass = new Float64Array(logits.length);
  }
  let n = 0;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (!(v > -Infinity)) continue;
    const e = Math.exp(v - max);
    keys[n] = v;
    mass[n] = e;
    sum += e;
    n++;
  }
  const need = p * sum;
  // Finds the boundary logit without sorting the row (a sort cost ~55 ms per token on a 128k
  // vocabulary): a quickselect by probability mass. `above` is the mass of the tokens already
  // known to be more likely than everything in [lo, hi).
  let lo = 0;
  let hi = n;
  let above = 0;
  let cutoff = -Infinity; // stays so when rounding leaves the whole row short of `need`: all stay
  let aboveCount = 0;
  // Pivots are the median of three pseudo-random entries (a fixed xorshift sequence, so a row always
  // gives the same cut): linear time on average whatever the row's order (fixed positions made
  // some orders, e.g. an "organ pipe" of logits, quadratic).
  state = 0x9e3779b9;
  while (lo < hi) {
    const x = keys[lo + (next() % (hi - lo))]!;
    const y = keys[lo + (next() % (hi - lo))]!;
    const z = keys[lo + (next() % (hi - lo))]!;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    // Three-way partition: [lo, a) above the pivot, [a, b) equal to it, [b, hi) below it.
    let a = lo;
    let i = lo;
    let b = hi;
    let gt = 0;
    let eq = 0;
    while (i < b) {
      const v = keys[i]!;
      if (v > pivot) {
        swap(i, a);
        gt += mass[a]!;
        a++;
        i++;
      } else if (v < pivot) {
        swap(i, --b);
      } else {
        eq += mass[i]!;
        i++;
      }
    }
    if (a > lo && above + gt >= need) {
      hi = a;
    } else if (above + gt + eq >= need) {
      cutoff = pivot;
      above += gt;
      aboveCount += a - lo;
      break;
    } else {
      above += gt + eq;
      aboveCount += b - lo;
      lo = b;
    }
  }
  // Tokens above the cutoff stay; tokens at it stay in id order while the mass is short of `need`
  // (the first one always, when nothing is above it).
  let first = aboveCount === 0;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (v > cutoff) continue;
    if (v === cutoff && (above < need || first)) {
      above += Math.exp(v - max);
      first = false;
      continue;
    }
    logits[i] = -Infinity;
  }
}

/** xorshift32 state of the pivot choice, reset at each call. */
let state = 0;

function next(): number {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return state >>> 0;
}

function swap(i: number, j: number): void {
  const k = keys[i]!;
  keys[i] = keys[j]!;
  keys[j] = k;
  const m = mass[i]!;
  mass[i] = mass[j]!;
  mass[j] = m;
}
