/**
 * The KIVI math on inputs small enough to work out by hand (arXiv 2402.02750): keys quantised per
 * channel over a block of G tokens, values per token over groups of G channels, asymmetric
 * s = (max − min)/(2^b − 1), q = round((x − min)/s), x̂ = q·s + min, the newest tokens kept exactly.
 * Every expected number below is written out, not computed by the code under test.
 */
import { describe, expect, it } from 'vitest';
import type { BackendTensor } from '@weft/core';
import { KiviKvStore, quantizeGroups } from '../src/index.js';
import { fakeLayout, fakeSession, fakeTensor } from '../src/conformance.js';

/** A one-layer, one-head store of head_dim 4 fed `tokens` (each 4 values) as keys and values alike. */
function feed(store: KiviKvStore, batches: number[][][]): { keys: number[][]; values: number[][] } {
  const layout = fakeLayout(1, 1, 4);
  store.begin({ layout, batchSize: 1, session: fakeSession().session });
  let all: number[][] = [];
  for (const tokens of batches) {
    all = [...all, ...tokens];
    const data = Float32Array.from(all.flat());
    const presents: Record<string, BackendTensor> = {
      'present.0.key': fakeTensor('float32', data, [1, 1, all.length, 4]),
      'present.0.value': fakeTensor('float32', data.slice(), [1, 1, all.length, 4]),
    };
    store.append(presents);
  }
  const feeds = store.materialize();
  const rows = (name: string): number[][] => {
    const d = feeds[name]!.data as Float32Array;
    return Array.from({ length: d.length / 4 }, (_, t) => Array.from(d.subarray(t * 4, t * 4 + 4)));
  };
  return { keys: rows('past_key_values.0.key'), values: rows('past_key_values.0.value') };
}

describe('KIVI on hand-computed tokens (G = 4, R = 4, 2 bits, head_dim 4)', () => {
  // Rows are tokens t0…t3, columns channels c0…c3.
  const block = [
    [0, 0, -3, 0],
    [0.8, 0, 0, 6],
    [1.2, 0, 0, 3],
    [3, 0, 0, 3],
  ];
  // Newer tokens that stay in the float32 residual, none on the 2-bit grid of anything above.
  const residual = [
    [0.125, -7.5, 1e-3, 42],
    [1, 2, 3, 4],
    [-1, -2, -3, -4],
    [0.3, 0.1, 0.2, 0.7],
  ];

  it('quantises keys per channel over the block and values per token, keeping the newest R exactly', () => {
    const store = new KiviKvStore({ group: 4, residual: 4 });
    const { keys, values } = feed(store, [[...block, ...residual]]);
    // Keys, per channel over t0…t3 (levels 0…3):
    //   c0 [0, 0.8, 1.2, 3]: min 0, s = 3/3 = 1, q = [0, 1, 1, 3]       → [0, 1, 1, 3]
    //   c1 [0, 0, 0, 0]: constant, s = 0, every code 0                 → [0, 0, 0, 0]
    //   c2 [−3, 0, 0, 0]: min −3, s = 1, q = [0, 3, 3, 3]               → [−3, 0, 0, 0]
    //   c3 [0, 6, 3, 3]: min 0, s = 2, q = [0, 3, 2, 2] (1.5 → 2: a tie takes the upper code) → [0, 6, 4, 4]
    expect(keys.slice(0, 4)).toEqual([
      [0, 0, -3, 0],
      [1, 0, 0, 6],
      [1, 0, 0, 4],
      [3, 0, 0, 4],
    ]);
    // Values, per token over the 4 channels:
    //   t0 [0, 0, −3, 0]: min −3, s = 1 → exact
    //   t1 [0.8, 0, 0, 6]: min 0, s = 2, q = [0 (0.4), 0, 0, 3]   → [0, 0, 0, 6]
    //   t2 [1.2, 0, 0, 3]: min 0, s = 1, q = [1, 0, 0, 3]          → [1, 0, 0, 3]
    //   t3 [3, 0, 0, 3]: min 0, s = 1                              → exact
    // (Quantised along the other axis the two would differ: per channel, t1's 0.8 reads back as 1.)
    expect(values.slice(0, 4)).toEqual([
      [0, 0, -3, 0],
      [0, 0, 0, 6],
      [1, 0, 0, 3],
      [3, 0, 0, 3],
    ]);
    // The residual: float32, exactly as fed.
    const exact = residual.map((t) => t.map(Math.fround));
    expect(keys.slice(4)).toEqual(exact);
    expect(values.slice(4)).toEqual(exact);
    // Bytes: keys 4 tokens × 1 code byte + 4 channels × (fp16 scale + zero) = 20; values
    // 4 × (1 code byte + 1 group × 4) = 20; each part's residual 4 × 4 × 4 = 64.
    expect(store.bytes()).toBe(20 + 64 + 20 + 64);
  });

  it('keys leave the residual in whole blocks once more than R wait; values one at a time (the newest R stay float32)', () => {
    // One token per step after a 4-token prefill. Bytes per part: a quantised key token 1, a key
    // block's parameters 16, a quantised value token 1 + 4, a residual token 16.
    const expected = (keysQuantised: number, valuesQuantised: number, n: number): number =>
      keysQuantised + (keysQuantised / 4) * 16 + (n - keysQuantised) * 16 + valuesQuantised * 5 + (n - valuesQuantised) * 16;
    const store = new KiviKvStore({ group: 4, residual: 4 });
    const tokens = [...block, ...residual, [9, 9, 9, 9]];
    const seen: number[] = [];
    for (let n = 4; n <= tokens.length; n++) {
      feed(store, n === 4 ? [tokens.slice(0, 4)] : [tokens.slice(0, 4), ...tokens.slice(4, n).map((t) => [t])]);
      seen.push(store.bytes());
    }
    // n = 4…9 cached tokens: 4 keys in float32 until the 5th arrives, then a block of 4 leaves and
    // 1…4 stay; the 9th flushes the second block. Values: the newest 4 stay float32.
    expect(seen).toEqual([expected(0, 0, 4), expected(4, 1, 5), expected(4, 2, 6), expected(4, 3, 7), expected(4, 4, 8), expected(8, 5, 9)]);
  });
});

describe('asymmetric min/max quantisation by hand', () => {
  it('zero = min, scale = (max − min)/(2^b − 1), q = round((x − min)/scale)', () => {
    // 2 bits, fp32 parameters, groups of 4: [−1, 0.2, 1.1, 2] → s = 3/3 = 1, q = [0, 1, 2, 3];
    // [5, 5, 5, 5] → a constant group: s = 0, every value back exactly.
    const q = quantizeGroups(Float32Array.of(-1, 0.2, 1.1, 2, 5, 5, 5, 5), { bits: 2, group: 4, precision: 'fp32' });
    expect([...q.zeros]).toEqual([-1, 5]);
    expect([...q.scales]).toEqual([1, 0]);
    // Codes packed first value in the lowest bits: 0 | 1<<2 | 2<<4 | 3<<6 = 0xe4, then 0.
    expect([...q.codes]).toEqual([0xe4, 0]);
    // 4 bits: [0, 1, 7.4, 15] → s = 1, q = [0, 1, 7, 15].
    const q4 = quantizeGroups(Float32Array.of(0, 1, 7.4, 15), { bits: 4, group: 4, precision: 'fp32' });
    expect([...q4.codes]).toEqual([0x10, 0xf7]);
  });
});
