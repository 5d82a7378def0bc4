import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { float16Table, float32BitsToFloat16, type BackendTensor, type KvCacheStore, type KvLayout } from '@weft/core';
import type { WeftModel } from '@weft/core';
import { Fp16KvStore, Int4KvStore, Int8KvStore, KiviKvStore, TemporalKvStore } from '../src/index.js';
import { checkFloat16CacheContract, checkKvStoreContract, fakeLayout, fakeSession, fakeTensor } from '../src/conformance.js';
import { decodeFp16, encodeFp16, halfTable, saturatingHalves, toHalf } from '../src/quant/fp16.js';
import { collect, done, runtime, tinyModel, windowRouter } from './helpers.js';

/** `tiny` with float16 past_key_values / present / logits around the same float32 computation. */
const tinyFp16 = fileURLToPath(new URL('../../../core/test/fixtures/tiny-fp16', import.meta.url));
const text = 'Once upon a time, there was a little fox named Tom. He lived in a big forest with his mother and his friends.';

describe('compressors on a graph whose cache is float16 (fp16 exports)', () => {
  const weft = runtime();
  afterAll(() => weft.dispose());
  let models: Promise<[WeftModel, WeftModel]> | undefined;
  const load = () => (models ??= Promise.all([weft.load(tinyFp16), weft.load(tinyModel)]));

  it.each(['fp16', 'int8', 'int4', 'kivi', 'temporal'])('%s: the perplexity of the float32 graph with the same store, and the same bytes at rest', async (kv) => {
    const [half, plain] = await load();
    const inputIds = plain.tokenizer.encode(text);
    const a = await half.evaluate({ inputIds, kv });
    const b = await plain.evaluate({ inputIds, kv });
    expect(Math.abs(a.nll - b.nll) / b.nll).toBeLessThan(5e-3);
    expect(a.kvBytes).toBe(b.kvBytes);
    // Generation runs too, and the store holds what it would for the float32 graph.
    const gen = done(await collect(half.generate({ prompt: 'Once upon a time', maxTokens: 16, kv })));
    expect(gen.rows[0]!.ids.length).toBe(16);
    expect(gen.kvBytes).toBe(done(await collect(plain.generate({ prompt: 'Once upon a time', maxTokens: 16, kv }))).kvBytes);
  });

  it('int4 with an evicting router: the tokens of the float32 graph', async () => {
    const [half, plain] = await load();
    const request = { prompt: 'Once upon a time, there was', maxTokens: 24, kv: 'int4', router: windowRouter(12) };
    const a = done(await collect(half.generate(request)));
    const b = done(await collect(plain.generate(request)));
    expect(a.rows[0]!.ids).toEqual(b.rows[0]!.ids);
    expect(a.kvBytes).toBe(b.kvBytes);
  });
});

describe('stores serve a float16 cache themselves', () => {
  const stores: [string, () => KvCacheStore][] = [
    ['fp16', () => new Fp16KvStore()],
    ['int8', () => new Int8KvStore()],
    ['int4', () => new Int4KvStore({ group: 8 })],
    ['kivi', () => new KiviKvStore({ group: 8, residual: 8 })],
    ['temporal', () => new TemporalKvStore({ fp32: 4, fp16: 4, int8: 8, rest: 'int2' })],
  ];

  it.each(stores)('%s: feeds exactly the float16 of what it feeds a float32 graph, through prefill, steps and eviction', (_name, create) => {
    const [batch, heads, dim] = [2, 2, 8];
    const half = fakeLayout(2, heads, dim);
    const layouts: KvLayout[] = [{ ...half }, { ...half, pastType: 'float16' }];
    const [a, b] = [create(), create()];
    expect(b.float16Cache).toBe(true);
    a.begin({ layout: layouts[0]!, batchSize: batch, session: fakeSession(true).session });
    b.begin({ layout: layouts[1]!, batchSize: batch, session: fakeSession(true).session });
    let seed = 3;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 6;
    const names = [...half.presentKeyNames, ...half.presentValueNames];
    const pastNames = [...half.pastKeyNames, ...half.pastValueNames];
    for (const [step, count] of [8, 1, 1, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1].entries()) {
      const fed = b.materialize();
      const past = b.length;
      const halves: Record<string, BackendTensor> = {};
      const floats: Record<string, BackendTensor> = {};
      names.forEach((name, i) => {
        // A present is the fed past, then the new tokens, per batch row and head.
        const bits = new Uint16Array(batch * heads * (past + count) * dim);
        const fedBits = fed[pastNames[i]!]!.data as Uint16Array;
        for (let row = 0; row < batch * heads; row++) {
          bits.set(fedBits.subarray(row * past * dim, (row + 1) * past * dim), row * (past + count) * dim);
          encodeFp16(Array.from({ length: count * dim }, random), bits, (row * (past + count) + past) * dim);
        }
        const dims = [batch, heads, past + count, dim];
        halves[name] = fakeTensor('float16', bits, dims);
        floats[name] = fakeTensor('float32', decodeFp16(bits), dims);
      });
      a.materialize();
      a.append(floats);
      b.append(halves);
      if (step === 10) {
        const keep = { kind: 'shared' as const, slots: [0, 1, 2, 5, 9, 12, 14, 15, 16] };
        a.retain!(keep);
        b.retain!(keep);
      }
      const fa = a.materialize();
      const fb = b.materialize();
      for (const name of pastNames) {
        expect(fb[name]!.type).toBe('float16');
        expect(fb[name]!.dims).toEqual(fa[name]!.dims);
        expect(Array.from(fb[name]!.data as Uint16Array), `${name} after step ${step}`).toEqual(Array.from(encodeFp16(fa[name]!.data as Float32Array)));
      }
      expect(b.bytes()).toBe(a.bytes());
    }
    expect(b.length).toBeGreaterThan(9);
  });

  it('refuses presents of the other type with the type it was begun for', () => {
    const store = new Int8KvStore();
    const layout = { ...fakeLayout(1, 1, 8), pastType: 'float16' as const };
    store.begin({ layout, batchSize: 1, session: fakeSession(true).session });
    const presents = Object.fromEntries([...layout.presentKeyNames, ...layout.presentValueNames].map((n) => [n, fakeTensor('float32', new Float32Array(8), [1, 1, 1, 8])]));
    expect(() => store.append(presents)).toThrow(/int8 was begun for a float16 cache; present\.0\.key is float32/);
  });
});

describe('values near 65504 on a float16 cache', () => {
  /** What `store` feeds a float16 graph for one token (one head of 8 channels) after being given `values` as float16. */
  const fed = (store: KvCacheStore, values: readonly number[], steps = 1): number[] => {
    const layout = { ...fakeLayout(1, 1, 8), pastType: 'float16' as const };
    store.begin({ layout, batchSize: 1, session: fakeSession().session });
    for (let step = 0; step < steps; step++) {
      // The same token each step (stores read only the new tail: the past part stays zero).
      const past = store.length;
      const bits = new Uint16Array((past + 1) * 8);
      encodeFp16(values, bits, past * 8);
      store.append(Object.fromEntries([...layout.presentKeyNames, ...layout.presentValueNames].map((n) => [n, fakeTensor('float16', bits.slice(), [1, 1, past + 1, 8])])));
    }
    const past = store.materialize()[layout.pastValueNames[0]!]!;
    expect(past.type).toBe('float16');
    return Array.from((past.data as Uint16Array).subarray(0, 8));
  };
  // Groups of 0 … 65504 (a zero point of 0): with a negative minimum, the overshoot could stay below 65520.
  const token = [0, 65504, 1, 0.25, 0.5, 0.75, 2, 3];

  it.each([
    // fp16 scales are rounded up: int8's (65504 / 255 → 257) dequantises 65504 as 255 · 257 = 65535,
    // int4's (→ 4368) and KIVI 2-bit's (→ 21840) as 65520: all round to Infinity (65520 is a tie, to even).
    ['int8', () => new Int8KvStore(), 1],
    ['int4', () => new Int4KvStore(), 1],
    ['kivi, the value out of its residual', () => new KiviKvStore({ group: 2, residual: 2 }), 4],
    ['temporal, in its int8 tier', () => new TemporalKvStore({ fp32: 1, int8: 8, rest: 'int2' }), 3],
  ] as const)('%s: a value dequantised past 65504 is fed as 65504, not Infinity', (_name, create, steps) => {
    const half = fed(create(), token, steps);
    expect(half[1]).toBe(0x7bff);
    expect(half.every((h) => (h & 0x7c00) !== 0x7c00)).toBe(true);
  });

  it('the conversion it feeds through is toHalf (nearest, ties to even) but for finite values past 65504', () => {
    // Every half's value, its float32 neighbours, and values across (and past) the fp16 range.
    const values = new Float32Array(65536 * 3 + 20_000);
    const bits = new Uint32Array(values.buffer);
    decodeFp16(Uint16Array.from({ length: 65536 }, (_, h) => h), values);
    for (let h = 0; h < 65536; h++) {
      bits[65536 + h] = bits[h]! + 1;
      bits[2 * 65536 + h] = bits[h]! - 1;
    }
    let seed = 9;
    for (let i = 3 * 65536; i < values.length; i++) values[i] = (((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5) * 2 ** ((i % 60) - 30);
    const out = new Uint16Array(values.length);
    saturatingHalves(bits, 0, values.length, out);
    let saturated = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      const want = toHalf(v);
      if (Number.isNaN(v)) expect(out[i]! & 0x7fff).toBeGreaterThan(0x7c00);
      else if ((want & 0x7fff) === 0x7c00 && Number.isFinite(v)) {
        expect(out[i], `${v}`).toBe(v > 0 ? 0x7bff : 0xfbff);
        saturated++;
      } else if (out[i] !== want) expect.fail(`${v}: 0x${out[i]!.toString(16)}, toHalf gives 0x${want.toString(16)}`);
    }
    expect(saturated).toBeGreaterThan(1000);
    // Only [from, to) is written.
    const part = new Uint16Array(4).fill(7);
    saturatingHalves(new Uint32Array(Float32Array.of(1, 65520, -1e9, 2).buffer), 1, 3, part);
    expect(Array.from(part)).toEqual([7, 0x7bff, 0xfbff, 7]);
  });

  it("feeds through core's conversion, the one core's float16 cache bridge uses, and decodes through core's table", () => {
    expect(saturatingHalves).toBe(float32BitsToFloat16);
    expect(halfTable()).toBe(float16Table());
  });

  it('feeds Infinity and NaN given by the model as they are, and every other value of an fp16 store unchanged', () => {
    const given = [Infinity, -Infinity, NaN, 65504, -65504, 1, 2 ** -24, -0];
    const half = fed(new Fp16KvStore(), given);
    expect(half.slice(0, 2)).toEqual([0x7c00, 0xfc00]);
    expect(half[2]! & 0x7fff).toBeGreaterThan(0x7c00);
    expect(half.slice(3)).toEqual(Array.from(encodeFp16(given.slice(3))));
  });
});

describe('the conformance kit and float16Cache', () => {
  it('checks a store that declares float16Cache on a float16 cache too, and fails one that does not serve it', () => {
    // The kit's own stores pass (stores.test.ts); one that claims the flag but works in float32 does not.
    const claims = (): KvCacheStore => {
      const inner = new Int8KvStore();
      return {
        specificationVersion: 'v1',
        name: 'claims-float16',
        float16Cache: true,
        get length() {
          return inner.length;
        },
        begin: (init) => inner.begin({ ...init, layout: { ...init.layout, pastType: undefined } }),
        materialize: () => inner.materialize(),
        append: (presents) => inner.append(presents),
        bytes: () => inner.bytes(),
        slotPositions: () => inner.slotPositions(),
        retain: (selection) => inner.retain(selection),
        dispose: () => inner.dispose(),
      };
    };
    expect(() => checkKvStoreContract(claims, { tolerance: 0.0041 })).toThrow(/float16 run step 0: past_key_values\.0\.key type/);
    expect(() => checkFloat16CacheContract(() => new Int8KvStore())).not.toThrow();
  });
});
