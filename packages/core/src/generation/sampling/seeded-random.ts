/**
 * Small, fast, seedable generator (mulberry32) returning uniform numbers in [0, 1).
 * The same seed gives the same sequence on every platform. Every bit of a safe integer counts:
 * seeds that differ only above bit 31 (or in sign) give different sequences.
 */
export function seededRandom(seed: number): () => number {
  const whole = Math.trunc(seed);
  let state = ((whole >>> 0) ^ 0x9e3779b9) >>> 0;
  const high = Math.floor(whole / 4294967296);
  if (high !== 0) state = (state ^ Math.imul(high, 0x85ebca6b) ^ 0x27d4eb2f) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
