import { describe, expect, it } from 'vitest';
import type { KvCacheStore } from '@weft/core';
import { Fp16KvStore, Int4KvStore, Int8KvStore, KiviKvStore, quantizeGroups, TemporalKvStore } from '../src/index.js';
import { fakeLayout, fakeSession, fakeTensor } from '../src/conformance.js';

const shape = { layers: 1, heads: 1, dim: 8 };

/** Begins `store` and appends `tokens` tokens of values in [-1, 1], one of them `value`. */
function appendWith(store: KvCacheStore, value: number, tokens = 4): KvCacheStore {
  const layout = fakeLayout(shape.layers, shape.heads, shape.dim);
  store.begin({ layout, batchSize: 1, session: fakeSession().session });
  const presents = Object.fromEntries(
    [...layout.presentKeyNames, ...layout.presentValueNames].map((name) => {
      const data = new Float32Array(tokens * shape.dim).map((_, i) => Math.sin(i));
      data[3] = value;
      return [name, fakeTensor('float32', data, [1, shape.heads, tokens, shape.dim])];
    }),
  );
  store.append(presents);
  return store;
}

/** The first key of the store's cache, as float32. */
function firstKey(store: KvCacheStore): Float32Array {
  const past = store.materialize();
  return past[fakeLayout(shape.layers, shape.heads, shape.dim).pastKeyNames[0]!]!.data as Float32Array;
}

describe('values beyond fp16 range (|x| > 65504) in fp16 storage', () => {
  it('the fp16 store refuses a finite value that would become Infinity, with advice, instead of storing it', () => {
    expect(() => appendWith(new Fp16KvStore(), 70000)).toThrow(RangeError);
    expect(() => appendWith(new Fp16KvStore(), -1e9)).toThrow(/the value -1000000000 is beyond fp16's range \(\|values\| up to 65504\): use a store that keeps them in fp32/);
    // 65519 still rounds to the largest half; an Infinity or NaN from the model is stored as it is.
    expect(firstKey(appendWith(new Fp16KvStore(), 65519))[3]).toBe(65504);
    expect(firstKey(appendWith(new Fp16KvStore(), Number.POSITIVE_INFINITY))[3]).toBe(Number.POSITIVE_INFINITY);
    expect(firstKey(appendWith(new Fp16KvStore(), Number.NaN))[3]).toBeNaN();
  });

  it('int8/int4 with fp16 scales refuse a group they cannot hold (it read back as NaN); fp32 scales hold it', () => {
    // A scale above 65504: int4 has 15 steps, int8 255.
    for (const [store, value] of [[new Int4KvStore(), 1e6], [new Int8KvStore(), 2e7], [new Int4KvStore({ group: 4 }), 1e6]] as const) {
      expect(() => appendWith(store, value), store.name).toThrow(new RegExp(`values in \\[.*, ${value}\\] are beyond what fp16 scales and zero points hold`));
    }
    // A zero point below -65504.
    expect(() => appendWith(new Int8KvStore(), -70000)).toThrow(/use scales=fp32/);
    // A large value whose scale still fits is held: int8's scale for 1e6 is ~3922.
    expect(firstKey(appendWith(new Int8KvStore(), 1e6))[3]).toBeCloseTo(1e6, -4);
    const key = firstKey(appendWith(new Int4KvStore({ scales: 'fp32' }), 1e6));
    expect(Number.isFinite(key[3])).toBe(true);
    expect(key[3]).toBeCloseTo(1e6, -5);
  });

  it('kivi and temporal refuse it in their fp16 parts, and take it where those parts are fp32', () => {
    // 4 tokens stay in kivi's residual: fp16 there refuses, fp32 (the default) keeps the value.
    expect(() => appendWith(new KiviKvStore({ residualPrecision: 'fp16' }), 1e5)).toThrow(/beyond fp16's range/);
    expect(firstKey(appendWith(new KiviKvStore(), 1e5))[3]).toBe(1e5);
    // Temporal's newest tier is fp16 here.
    expect(() => appendWith(new TemporalKvStore({ fp16: 16, rest: 'int8' }), 1e5)).toThrow(/beyond fp16's range/);
  });

  it('quantizeGroups refuses too, and takes the same values with fp32 parameters', () => {
    const values = new Float32Array([0, 0.5, 1, 2e6]);
    expect(() => quantizeGroups(values, { bits: 4, group: 4 })).toThrow(/use scales=fp32/);
    // quantizeGroups has no `scales` option: the error names its own.
    expect(() => quantizeGroups(values, { bits: 4, group: 4 })).toThrow(/quantizeGroups takes precision: 'fp32'/);
    const q = quantizeGroups(values, { bits: 4, group: 4, precision: 'fp32' });
    expect(q.scales[0]).toBeGreaterThanOrEqual(2e6 / 15);
  });
});
