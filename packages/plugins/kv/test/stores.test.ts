import { describe, expect, it } from 'vitest';
import { FullPrecisionKvStore, type KvCacheStore } from '@weft/core';
import { Fp16KvStore, Int4KvStore, Int8KvStore, KiviKvStore, TemporalKvStore } from '../src/index.js';
import { checkKvStoreContract, fakeLayout, fakeSession, fakeTensor } from '../src/conformance.js';

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

describe('after dispose', () => {
  const stores: [string, () => KvCacheStore][] = [
    ['fp16', () => new Fp16KvStore()],
    ['int4', () => new Int4KvStore()],
    ['kivi', () => new KiviKvStore()],
    ['temporal', () => new TemporalKvStore()],
  ];
  it.each(stores)('%s refuses append and retain until the next begin, and stays empty', (_name, create) => {
    const store = fill(create(), [6, 1]);
    store.dispose();
    const layout = fakeLayout(2, 2, 32);
    const presents = Object.fromEntries([...layout.presentKeyNames, ...layout.presentValueNames].map((name) => [name, fakeTensor('float32', new Float32Array(2 * 8 * 32), [1, 2, 8, 32])]));
    expect(() => store.append(presents)).toThrow(/append called before begin \(or after dispose\)/);
    expect(() => store.retain!({ kind: 'shared', slots: [0, 1, 2] })).toThrow(/retain called before begin \(or after dispose\)/);
    expect(() => store.materialize()).toThrow(/materialize called before begin/);
    expect(store.length).toBe(0);
    expect(store.bytes()).toBe(0);
    // A later run begins as usual.
    fill(store, [3, 1]);
    expect(store.length).toBe(4);
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

describe('left-padded rows (KvCacheInit.padding)', () => {
  const HEADS = 2;
  const DIM = 32;
  const layout = fakeLayout(2, HEADS, DIM);
  const names = [...layout.presentKeyNames, ...layout.presentValueNames];
  const random = (n: number, seed: number): Float32Array => {
    let x = seed;
    return new Float32Array(n).map(() => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 4 - 2);
  };
  /** Every present's tokens of one row: per (present, head), `length` tokens, then the steps' tokens. */
  const tokensOf = (seed: number, length: number): Float32Array[] => names.flatMap((_, s) => Array.from({ length: HEADS }, (_, h) => random(length * DIM, seed + 97 * (s * HEADS + h))));
  /** Feeds `rows` (per row: its tokens per present and head, as {@link tokensOf}) in the given steps; returns each step's fed past per row. */
  const run = (store: KvCacheStore, rows: Float32Array[][], steps: readonly number[], padding?: number[]): Float32Array[][][] => {
    const B = rows.length;
    store.begin({ layout, batchSize: B, session: fakeSession().session, ...(padding ? { padding } : {}) });
    const fed: Float32Array[][][] = [];
    let n = 0;
    for (const count of [...steps, 0]) {
      const feeds = store.materialize();
      // Per row, per past tensor: its [heads, n, dim] block.
      fed.push(Array.from({ length: B }, (_, b) => [...layout.pastKeyNames, ...layout.pastValueNames].map((name) => (feeds[name]!.data as Float32Array).slice(b * HEADS * n * DIM, (b + 1) * HEADS * n * DIM))));
      if (count === 0) break;
      const presents: Record<string, ReturnType<typeof fakeTensor>> = {};
      names.forEach((name, s) => {
        const data = new Float32Array(B * HEADS * (n + count) * DIM);
        for (let b = 0; b < B; b++) for (let h = 0; h < HEADS; h++) data.set(rows[b]![s * HEADS + h]!.subarray(0, (n + count) * DIM), (b * HEADS + h) * (n + count) * DIM);
        presents[name] = fakeTensor('float32', data, [B, HEADS, n + count, DIM]);
      });
      store.append(presents);
      n += count;
    }
    store.dispose();
    return fed;
  };
  /** Slots [from, …) of each head of a row's fed [heads, n, dim] block. */
  const realSlots = (block: Float32Array, from: number): Float32Array[] => {
    const n = block.length / HEADS / DIM;
    return Array.from({ length: HEADS }, (_, h) => block.slice((h * n + from) * DIM, (h + 1) * n * DIM));
  };

  const stores: [string, () => KvCacheStore][] = [
    ['fp16', () => new Fp16KvStore()],
    ['int8', () => new Int8KvStore()],
    ['int4', () => new Int4KvStore()],
    ['kivi', () => new KiviKvStore()],
    ['kivi group 8, residual 12', () => new KiviKvStore({ group: 8, residual: 12 })],
    ['kivi 4-bit, fp16 residual', () => new KiviKvStore({ bits: 4, residualPrecision: 'fp16' })],
    ['temporal fp32=8,int8=24,rest=int2', () => new TemporalKvStore({ fp32: 8, int8: 24, rest: 'int2' })],
  ];
  it.each(stores)('%s feeds a padded row\'s real tokens bit for bit as the same tokens alone, every step', (_name, create) => {
    const prompt = 7;
    const decode = 80;
    const total = prompt + decode;
    const real = tokensOf(1, total);
    const alone = run(create(), [real], [prompt, ...new Array<number>(decode).fill(1)]);
    for (const pad of [9, 43]) {
      // Row 0: `pad` pad tokens (other values), then the same tokens; row 1: a prompt of pad + 7 tokens.
      const padTokens = tokensOf(2, pad);
      const row0 = real.map((t, i) => {
        const joined = new Float32Array((pad + total) * DIM);
        joined.set(padTokens[i]!);
        joined.set(t, pad * DIM);
        return joined;
      });
      const batched = run(create(), [row0, tokensOf(3, pad + total)], [pad + prompt, ...new Array<number>(decode).fill(1)], [pad, 0]);
      expect(batched).toHaveLength(alone.length);
      let mismatch = '';
      for (let step = 1; step < alone.length && !mismatch; step++) {
        for (let s = 0; s < names.length && !mismatch; s++) {
          const got = realSlots(batched[step]![0]![s]!, pad);
          const want = realSlots(alone[step]![0]![s]!, 0);
          for (let h = 0; h < HEADS && !mismatch; h++) {
            const a = new Uint32Array(got[h]!.buffer);
            const b = new Uint32Array(want[h]!.buffer);
            const at = a.length !== b.length ? -1 : a.findIndex((bits, i) => bits !== b[i]);
            if (a.length !== b.length || at >= 0) mismatch = `pad ${pad}, step ${step}, ${names[s]} head ${h}: ${a.length !== b.length ? `${a.length / DIM} real slots, not ${b.length / DIM}` : `slot ${Math.floor(at / DIM)} channel ${at % DIM} is ${got[h]![at]}, alone ${want[h]![at]}`}`;
          }
        }
      }
      expect(mismatch).toBe('');
    }
  });

  it('kivi keeps pad keys per token, outside its key blocks, and counts them', () => {
    // One row: 9 pads, then 40 real tokens. Keys: 9 pads at 2 bits per token (8 + 4 bytes), one
    // block of the 32 oldest real tokens, 8 in the residual. Values: the 32 newest in the residual,
    // 17 quantised (the pads among them).
    const store = new KiviKvStore();
    store.begin({ layout, batchSize: 1, session: fakeSession().session, padding: [9] });
    const presents: Record<string, ReturnType<typeof fakeTensor>> = {};
    for (const name of names) presents[name] = fakeTensor('float32', random(HEADS * 49 * DIM, 5), [1, HEADS, 49, DIM]);
    store.append(presents);
    const keys = 9 * (8 + 4) + (32 * 8 + 32 * 4) + 8 * 128;
    const values = 17 * (8 + 4) + 32 * 128;
    expect(store.bytes()).toBe(2 * HEADS * (keys + values));
    // Unpadded, the same 49 tokens: one block of 32 keys and 17 in the residual.
    const plain = new KiviKvStore();
    plain.begin({ layout, batchSize: 1, session: fakeSession().session });
    for (const name of names) presents[name] = fakeTensor('float32', random(HEADS * 49 * DIM, 5), [1, HEADS, 49, DIM]);
    plain.append(presents);
    expect(plain.bytes()).toBe(2 * HEADS * ((32 * 8 + 32 * 4) + 17 * 128 + values));
  });

  it('rejects padding that does not give one count per row', () => {
    const begin = (padding: number[]) => () => new KiviKvStore().begin({ layout, batchSize: 2, session: fakeSession().session, padding });
    expect(begin([3])).toThrow(RangeError);
    expect(begin([3, -1])).toThrow(/one left-padding count \(an integer ≥ 0\) per batch row/);
    expect(begin([1.5, 0])).toThrow(RangeError);
    expect(begin([3, 0])).not.toThrow();
  });
});
