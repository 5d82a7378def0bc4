import { afterAll, describe, expect, it } from 'vitest';
import { InvalidOptionsError, parseNamedRef } from '@weft/core';
import {
  Fp16KvStore,
  Int4KvStore,
  Int8KvStore,
  KiviKvStore,
  kvCompressors,
  kvQuant,
  KV_QUANT_ENTRY,
  TemporalKvStore,
  VERSION,
} from '../src/index.js';
import { collect, runtime, tinyModel } from './helpers.js';

describe('option validation', () => {
  const bad: [string, () => unknown, RegExp][] = [
    ['fp16 takes none', () => new Fp16KvStore({ group: 4 }), /Unknown option "group".*Valid options of "fp16": none/],
    ['unknown int4 key', () => new Int4KvStore({ groups: 4 }), /Unknown option "groups" for the kv store "int4".*group \(integer 1–4096, default 32\), scales \(fp16 \| fp32, default fp16, precision of scales and zero points\)/],
    ['int8 group 0', () => new Int8KvStore({ group: 0 }), /Bad value 0 for "group"/],
    ['int8 group as a hex string', () => new Int8KvStore({ group: '0x20' }), /Bad value "0x20" for "group"/],
    ['int4 fractional group', () => new Int4KvStore({ group: 2.5 }), /Bad value 2.5/],
    ['scales bf16', () => new Int4KvStore({ scales: 'bf16' }), /expected scales \(fp16 \| fp32/],
    ['kivi 3 bits', () => new KiviKvStore({ bits: 3 }), /Bad value 3 for "bits".*2 \| 4/],
    ['kivi residual < group', () => new KiviKvStore({ group: 64, residual: 32 }), /residual \(32\) must be at least group \(64\)/],
    ['temporal decreasing ages', () => new TemporalKvStore({ fp32: 100, int8: 50 }), /must not decrease/],
    ['temporal rest above a tier', () => new TemporalKvStore({ fp32: 16, int4: 64, rest: 'int8' }), /rest \(int8\) must have a lower precision than the int4 tier/],
    ['options not an object', () => new Int4KvStore(7 as never), /must be an object/],
    // Keys that exist on Object.prototype are unknown options like any other.
    ['toString as an option', () => new Int4KvStore({ toString: 5 }), /Unknown option "toString" for the kv store "int4"/],
    ['constructor as an option', () => new Int8KvStore({ constructor: 3 }), /Unknown option "constructor" for the kv store "int8"/],
    ['kivi residual help', () => new KiviKvStore({ residual: 'x' }), /residual \(integer 1–1048576, at least group, default max\(32, group\)\)/],
  ];
  it.each(bad)('%s', (_label, make, message) => {
    let error: unknown;
    try {
      make();
    } catch (e) {
      error = e;
    }
    expect(InvalidOptionsError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(message);
  });

  it('resolves defaults', () => {
    expect(new Int8KvStore().options).toEqual({ group: 64, scales: 'fp16' });
    expect(new Int4KvStore({ group: 16 }).options).toEqual({ group: 16, scales: 'fp16' });
    expect(new KiviKvStore().options).toEqual({ bits: 2, group: 32, residual: 32, residualPrecision: 'fp32', scales: 'fp16' });
    expect(new KiviKvStore({ group: 64 }).options.residual).toBe(64);
    const t = new TemporalKvStore();
    expect(t.schedule).toEqual([{ precision: 'fp32', until: 64 }, { precision: 'int8', until: 256 }]);
    expect(t.rest).toBe('int4');
    expect(new TemporalKvStore({ fp32: 32 }).schedule).toEqual([{ precision: 'fp32', until: 32 }]);
  });
});

describe('plugins', () => {
  const runtimes: { dispose(): Promise<void> }[] = [];
  afterAll(async () => {
    for (const r of runtimes) await r.dispose();
  });

  it('kvCompressors registers the five stores; options reach them from requests', async () => {
    const weft = runtime([kvCompressors()]);
    runtimes.push(weft);
    const model = await weft.load(tinyModel);
    for (const kv of ['fp16', 'int8', 'int4', 'kivi', 'temporal']) {
      const events = await collect(model.generate({ prompt: 'Once upon a time', maxTokens: 4, kv }));
      expect(events[0]).toMatchObject({ type: 'start', kv });
    }
    await expect(collect(model.generate({ prompt: 'Once', maxTokens: 2, kv: { name: 'int4', options: { group: 0 } } }))).rejects.toThrow(/Bad value 0 for "group"/);
    const spec = parseNamedRef('kivi:residual=64,group=16');
    const events = await collect(model.generate({ prompt: 'Once upon a time', maxTokens: 4, kv: spec }));
    expect(events[0]).toMatchObject({ type: 'start', kv: 'kivi' });
    expect(VERSION).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('kvQuant makes its store the runtime default, next to kvCompressors', async () => {
    const weft = runtime([kvQuant({ bits: 4, group: 16 }), kvCompressors()]);
    runtimes.push(weft);
    const model = await weft.load(tinyModel);
    expect((await collect(model.generate({ prompt: 'Once upon a time', maxTokens: 3 })))[0]).toMatchObject({ kv: 'int4' });
    expect((await collect(model.generate({ prompt: 'Once upon a time', maxTokens: 3, kv: 'fp32' })))[0]).toMatchObject({ kv: 'fp32' });
    expect((await collect(model.generate({ prompt: 'Once upon a time', maxTokens: 3, kv: { name: KV_QUANT_ENTRY, options: { group: 8 } } })))[0]).toMatchObject({ kv: 'int4' });
    const two = runtime([kvQuant({ bits: 2, residual: 64 })]);
    runtimes.push(two);
    const m2 = await two.load(tinyModel);
    expect((await collect(m2.generate({ prompt: 'Once upon a time', maxTokens: 3 })))[0]).toMatchObject({ kv: 'kivi' });
  });

  it('refuses a per-request kv-quant override of bits, and takes a request that repeats them', async () => {
    for (const [bits, store] of [[8, 'int8'], [4, 'int4'], [2, 'kivi']] as const) {
      const weft = runtime([kvQuant({ bits })]);
      runtimes.push(weft);
      const model = await weft.load(tinyModel);
      const other = bits === 4 ? 8 : 4;
      for (const asked of [other, String(other)]) {
        const error = await collect(model.generate({ prompt: 'Once', maxTokens: 2, kv: { name: KV_QUANT_ENTRY, options: { bits: asked } } })).catch((e: unknown) => e);
        expect(InvalidOptionsError.isInstance(error), `${bits}: ${asked}`).toBe(true);
        expect((error as InvalidOptionsError).option).toBe('kv.bits');
        expect((error as Error).message, `${bits}: ${asked}`).toMatch(new RegExp(`"kv-quant" is ${store}, chosen by kvQuant\\(\\{ bits: ${bits} \\}\\); a request cannot change its bits`));
      }
      // The same bits (a number, a decimal string, `--kv kv-quant:bits=4` as parsed) or undefined with another option: the plugin's store.
      for (const options of [{ bits }, { bits: String(bits) }, parseNamedRef(`kv-quant:bits=${bits}`).options!, { bits: undefined, group: '16' }]) {
        const events = await collect(model.generate({ prompt: 'Once', maxTokens: 2, kv: { name: KV_QUANT_ENTRY, options } }));
        expect(events[0], `${bits}: ${JSON.stringify(options)}`).toMatchObject({ type: 'start', kv: store });
      }
    }
  });

  it('kvQuant validates its options where it is written', () => {
    expect(() => kvQuant({ bits: 3 } as never)).toThrow(/bits must be 8, 4 or 2/);
    expect(() => kvQuant({ bits: 8, group: -1 })).toThrow(InvalidOptionsError);
    expect(() => kvQuant({ bits: 2, residual: 4 })).toThrow(/residual \(4\) must be at least group/);
  });
});
