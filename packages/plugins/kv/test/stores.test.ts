import { describe, expect, it } from 'vitest';
import { FullPrecisionKvStore, type KvCacheStore } from '@weft/core';
import { Fp16KvStore, Int4KvStore, Int8KvStore, KiviKvStore, TemporalKvStore } from '../src/index.js';
import { checkKvStoreContract, fakeLayout, fakeSession, fakeTensor } from './conformance.js';

describe('KvCacheStore contract', () => {
  const cases: [string, () => KvCacheStore, number, { keepsPresents?: boolean; sharesEmptyPast?: boolean; headDim?: number }?][] = [
    ['core fp32', () => new FullPrecisionKvStore(), 0, { keepsPresents: true, sharesEmptyPast: true }],
    ['fp16', () => new Fp16KvStore(), 2 ** -12],
    ['int8', () => new Int8KvStore(), 0.0041],
    ['int4', () => new Int4KvStore(), 0.07],
    ['int4 group 8, fp32 scales', () => new Int4KvStore({ group: 8, scales: 'fp32' }), 0.07],
    ['int4, head_dim 12 (ragged groups)', () => new Int4KvStore({ group: 8 }), 0.07, { headDim: 12 }],
    ['kivi', () => new KiviKvStore(), 0.34],
    ['kivi group 8, residual 12', () => new KiviKvStore({ group: 8, residual: 12 }), 0.34],
    ['kivi 4-bit', () => new KiviKvStore({ bits: 4, group: 16, residual: 16 }), 0.07],
    ['kivi fp16 residual', () => new KiviKvStore({ residualPrecision: 'fp16' }), 0.34],
    ['temporal', () => new TemporalKvStore(), 0.075],
    ['temporal fp32=8,fp16=16,int8=24,rest=int2', () => new TemporalKvStore({ fp32: 8, fp16: 16, int8: 24, rest: 'int2' }), 0.34],
  ];
  it.each(cases)('%s', (_name, create, tolerance, extra) => {
    checkKvStoreContract(create, { tolerance, dropsCollectedTensors: true, ...extra });
  });
});

/** Appends `count` random tokens per step through a fake session and returns the store. */
function fill<S extends KvCacheStore>(store: S, steps: readonly number[], shape = { layers: 2, heads: 2, dim: 32, batch: 1 }): S {
  const layout = fakeLayout(shape.layers, shape.heads, shape.dim);
  store.begin({ layout, batchSize: shape.batch, session: fakeSession().session });
  let n = 0;
  for (const count of steps) {
    store.materialize();
    const presents: Record<string, ReturnType<typeof fakeTensor>> = {};
    for (const name of [...layout.presentKeyNames, ...layout.presentValueNames]) {
      const data = new Float32Array(shape.batch * shape.heads * (n + count) * shape.dim).map(() => Math.random() * 2 - 1);
      presents[name] = fakeTensor('float32', data, [shape.batch, shape.heads, n + count, shape.dim]);
    }
    store.append(presents);
    n += count;
  }
  return store;
}

describe('byte accounting (2 layers × K,V × 2 heads × head_dim 32 = 8 lanes)', () => {
  const lanes = 2 * 2 * 2;
  const fp32 = (tokens: number): number => lanes * tokens * 32 * 4;

  it('fp16: 2 bytes per value', () => {
    expect(fill(new Fp16KvStore(), [10, 1, 1]).bytes()).toBe(lanes * 12 * 32 * 2);
  });

  it('int8: 32 codes + fp16 scale and zero per token (group 64 capped at head_dim)', () => {
    expect(fill(new Int8KvStore(), [10, 1]).bytes()).toBe(lanes * 11 * (32 + 4));
    expect(fill(new Int8KvStore({ group: 16, scales: 'fp32' }), [10, 1]).bytes()).toBe(lanes * 11 * (32 + 2 * 8));
  });

  it('int4: two codes per byte + fp16 scale and zero per group of 32', () => {
    const store = fill(new Int4KvStore(), [100]);
    expect(store.bytes()).toBe(lanes * 100 * (16 + 4));
    expect(fp32(100) / store.bytes()).toBeCloseTo(6.4, 5);
    expect(fill(new Int4KvStore({ group: 8 }), [3]).bytes()).toBe(lanes * 3 * (16 + 4 * 4));
  });

  it('kivi: keys in blocks of G tokens with per-channel fp16 scale/zero, values per token, float32 residuals', () => {
    // 100 tokens, R = 32, G = 32. Keys: 96 quantised (3 blocks), 4 in the residual.
    // Values: the newest 32 in the residual, 68 quantised.
    const keys = 3 * (32 * 8 + 32 * 4) + 4 * 32 * 4; // 3 blocks × (32 tokens × 8 bytes + 32 channels × 4 bytes) + residual
    const values = 68 * (8 + 4) + 32 * 32 * 4;
    expect(fill(new KiviKvStore(), [100]).bytes()).toBe((lanes / 2) * (keys + values));
    // Step by step gives the same split (keys overflow at 33, 65 and 97).
    expect(fill(new KiviKvStore(), [64, ...new Array<number>(36).fill(1)]).bytes()).toBe((lanes / 2) * (keys + values));
    // Up to R tokens everything stays float32.
    expect(fill(new KiviKvStore(), [20, 12]).bytes()).toBe(fp32(32));
    // R = 128: 100 tokens all in the residual.
    expect(fill(new KiviKvStore({ residual: 128 }), [100]).bytes()).toBe(fp32(100));
    // 4-bit: 16 bytes of codes per token.
    const k4 = 3 * (32 * 16 + 32 * 4) + 4 * 128;
    const v4 = 68 * (16 + 4) + 32 * 128;
    expect(fill(new KiviKvStore({ bits: 4 }), [100]).bytes()).toBe((lanes / 2) * (k4 + v4));
    // fp16 residuals: 64 bytes per residual token.
    expect(fill(new KiviKvStore({ residualPrecision: 'fp16' }), [100]).bytes()).toBe((lanes / 2) * (keys - 4 * 64 + values - 32 * 64));
  });

  it('temporal: 64 newest fp32, next 192 int8, older int4', () => {
    const tokens = 300; // 44 int4, 192 int8, 64 fp32
    expect(fill(new TemporalKvStore(), [tokens]).bytes()).toBe(lanes * (44 * (16 + 4) + 192 * (32 + 4) + 64 * 128));
    expect(fill(new TemporalKvStore(), [200, ...new Array<number>(100).fill(1)]).bytes()).toBe(lanes * (44 * 20 + 192 * 36 + 64 * 128));
    expect(fill(new TemporalKvStore({ fp32: 10, fp16: 20, rest: 'int2' }), [25]).bytes()).toBe(lanes * (5 * (8 + 4) + 10 * 64 + 10 * 128));
  });

  it('reports the float32 working buffers separately', () => {
    const store = fill(new Int4KvStore(), [40]);
    expect(store.workingBytes()).toBe(0); // nothing materialized since the last append
    store.materialize();
    expect(store.workingBytes()).toBe(lanes * 40 * 32 * 4);
    store.dispose();
    expect(store.bytes()).toBe(0);
    expect(store.workingBytes()).toBe(0);
  });

  it('counts what retain frees, including emptied key blocks', () => {
    const store = fill(new KiviKvStore(), [100]);
    // Keep the last 36 slots. Keys: blocks 0 and 1 vanish, block 2 keeps 32 tokens, residual 4.
    // Values: 4 quantised, 32 in the residual.
    store.retain({ kind: 'shared', slots: Array.from({ length: 36 }, (_, i) => 64 + i) });
    const keys = 1 * (32 * 8 + 32 * 4) + 4 * 128;
    const values = 4 * 12 + 32 * 128;
    expect(store.bytes()).toBe((lanes / 2) * (keys + values));
    // Keep 2 tokens of the remaining block: its scales stay, 30 tokens' codes go.
    store.retain({ kind: 'shared', slots: [0, 1, 32, 33, 34, 35] });
    expect(store.bytes()).toBe((lanes / 2) * ((2 * 8 + 32 * 4 + 4 * 128) + (2 * 12 + 4 * 128)));
  });
});

describe('core fp32 slot positions', () => {
  it('are the identity until first asked for, then kept through eviction and later appends', () => {
    // 10 tokens, then 1 and 1: nobody asked, so the store kept no positions yet.
    const store = fill(new FullPrecisionKvStore(), [10, 1, 1], { layers: 1, heads: 2, dim: 4, batch: 1 });
    const identity = Array.from({ length: 12 }, (_, i) => i);
    expect(store.slotPositions().map((l) => [...l])).toEqual([identity, identity]);
    store.retain({ kind: 'per-head', slots: [[0, 5, 11], [2, 3, 11]] });
    expect(store.slotPositions().map((l) => [...l])).toEqual([[0, 5, 11], [2, 3, 11]]);
    expect(store.length).toBe(3);
    // The next token takes absolute position 12 whatever was evicted.
    const presents: Record<string, ReturnType<typeof fakeTensor>> = {};
    for (const name of ['present.0.key', 'present.0.value']) presents[name] = fakeTensor('float32', new Float32Array(2 * 4 * 4), [1, 2, 4, 4]);
    store.append(presents);
    expect(store.slotPositions().map((l) => [...l])).toEqual([[0, 5, 11, 12], [2, 3, 11, 12]]);
    // A new run starts from the identity again.
    store.begin({ layout: fakeLayout(1, 2, 4), batchSize: 1, session: fakeSession().session });
    expect(store.slotPositions().map((l) => [...l])).toEqual([[], []]);
  });
});
