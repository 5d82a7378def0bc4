import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tensorFloat32, type WeftModel } from '@weft/core';
import { collect, done, runtime, tinyModel } from './helpers.js';

/** `tiny` with float16 past_key_values / present / logits around the same float32 computation. */
const tinyFp16 = fileURLToPath(new URL('../../../core/test/fixtures/tiny-fp16', import.meta.url));

describe('routers on a graph whose cache is float16 (fp16 exports)', () => {
  const weft = runtime();
  afterAll(() => weft.dispose());
  let models: Promise<[WeftModel, WeftModel]> | undefined;
  const load = () => (models ??= Promise.all([weft.load(tinyFp16), weft.load(tinyModel)]));

  it.each([
    ['key-norm', { budget: 8 }],
    ['content-aware', { budget: 8, entropy: 0 }],
    ['sink-window', { window: 6 }],
  ])('%s reads the float16 presents as numbers: the evictions and tokens of the float32 graph', async (name, options) => {
    const [half, plain] = await load();
    const request = { prompt: 'Once upon a time, there was a little fox named Tom. He', maxTokens: 20, router: { name, options } };
    const a = done(await collect(half.generate(request)));
    const b = done(await collect(plain.generate(request)));
    expect(a.rows[0]!.ids).toEqual(b.rows[0]!.ids);
    expect(a.kvBytes).toBe(b.kvBytes);
  });
});

describe('tensorFloat32', () => {
  it('gives float32 data as it is, float16 bits converted, and refuses other types', () => {
    const data = Float32Array.of(1, -2.5);
    expect(tensorFloat32({ type: 'float32', data })).toBe(data);
    expect(Array.from(tensorFloat32({ type: 'float16', data: Uint16Array.of(0x3c00, 0xc100, 0x7c00) }))).toEqual([1, -2.5, Infinity]);
    expect(() => tensorFloat32({ type: 'int64', data: BigInt64Array.of(1n) })).toThrow(TypeError);
  });
});
