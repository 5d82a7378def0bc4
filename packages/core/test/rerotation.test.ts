import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CacheKeyRerotation, cacheKeyRerotation, InvalidOptionsError, parseModelConfig, type BackendTensor, type KvLayout } from '../src/index.js';
import { collect, done, kvLayout, runtime, storyModel, wrappedNodeBackend } from './helpers.js';
import { windowRouter } from './window-router.js';

const layout = (over: Partial<KvLayout> = {}): KvLayout => kvLayout({ layers: 1, kvHeads: 1, headDim: 4 }, over);
const tensor = <T extends Float32Array | BigInt64Array>(data: T, dims: number[]) => ({ type: data instanceof Float32Array ? 'float32' : 'int64', data, dims, dispose: () => undefined }) as unknown as BackendTensor;
const session = { createTensor: (_type: string, data: Float32Array, dims: readonly number[]) => tensor(data, [...dims]) } as never;

describe('rotary config', () => {
  const base = { model_type: 'llama', hidden_size: 64, num_attention_heads: 4, num_hidden_layers: 1, vocab_size: 10 };
  it('reads theta and the rotary dimension of rotate-half models', () => {
    expect(parseModelConfig({ ...base, rope_theta: 500000 }, 'c').rope).toEqual({ theta: 500000, rotaryDim: 16, ropeScale: 1 });
    expect(parseModelConfig({ ...base, model_type: 'stablelm', partial_rotary_factor: 0.25 }, 'c').rope).toEqual({ theta: 10000, rotaryDim: 4, ropeScale: 1 });
    expect(parseModelConfig({ ...base, rope_scaling: { type: 'linear', factor: 4 } }, 'c').rope?.ropeScale).toBe(4);
  });
  it('says why it cannot reproduce a rotary embedding, and leaves non-rotary models alone', () => {
    const llama3 = parseModelConfig({ ...base, rope_scaling: { rope_type: 'llama3', factor: 8 } }, 'c');
    expect(llama3.rope).toBeUndefined();
    expect(llama3.ropeUnsupported).toMatch(/llama3/);
    expect(() => cacheKeyRerotation('cache', layout(), llama3, 1)).toThrow(InvalidOptionsError);
    expect(cacheKeyRerotation('absolute', layout(), llama3, 1)).toBeUndefined();
    const gpt2 = parseModelConfig({ model_type: 'gpt2', n_embd: 64, n_head: 4, n_layer: 1, vocab_size: 10 }, 'c');
    expect(gpt2.rope).toBeUndefined();
    expect(cacheKeyRerotation('cache', layout(), gpt2, 1)).toBeUndefined();
  });
  it('says a malformed rope field is one instead of replacing it with a default', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ rope_theta: 0 }, /rope_theta 0 \(expected a number > 0\)/],
      [{ rope_theta: '500000' }, /rope_theta "500000"/],
      [{ partial_rotary_factor: 'half' }, /partial_rotary_factor "half"/],
      [{ partial_rotary_factor: -0.5 }, /partial_rotary_factor -0.5/],
      [{ rope_scaling: { type: 'linear', factor: 0 } }, /linear rope_scaling with factor 0/],
      [{ rope_scaling: { type: 'linear' } }, /linear rope_scaling with factor undefined/],
    ];
    for (const [fields, reason] of cases) {
      const config = parseModelConfig({ ...base, ...fields }, 'c');
      expect(config.rope, JSON.stringify(fields)).toBeUndefined();
      expect(config.ropeUnsupported).toMatch(reason);
      expect(() => cacheKeyRerotation('cache', layout(), config, 1)).toThrow(reason);
    }
    // Absent or null fields keep their defaults.
    expect(parseModelConfig({ ...base, rope_theta: null, partial_rotary_factor: null, rope_scaling: null }, 'c').rope).toEqual({ theta: 10000, rotaryDim: 16, ropeScale: 1 });
  });
});

describe('CacheKeyRerotation', () => {
  it('turns each kept key by its cache position minus the position it was fed at, and restores the store\'s keys', () => {
    // theta 100, rotary dim 4: pairs (0, 2) at frequency 1 and (1, 3) at frequency 1/10.
    const r = new CacheKeyRerotation(layout(), { theta: 100, rotaryDim: 4 }, 1);
    r.record(0, tensor(new BigInt64Array([0n, 1n, 2n]), [1, 3]));
    // After evicting slot 0 the store holds absolute slots 1 and 2 (fed at 1 and 2): they become 0 and 1.
    const keys = new Float32Array([1, 0, 0, 1, /* slot 2 */ 0, 2, 1, 0]);
    const feeds: Record<string, BackendTensor> = { 'past_key_values.0.key': tensor(keys, [1, 1, 2, 4]) };
    const created = r.apply(session, feeds, [[1, 2]], [0]);
    expect(created).toHaveLength(1);
    const out = feeds['past_key_values.0.key']!.data as Float32Array;
    const turn = (x1: number, x2: number, a: number) => [x1 * Math.cos(a) - x2 * Math.sin(a), x2 * Math.cos(a) + x1 * Math.sin(a)];
    // Both slots turn by −1: pair (0, 2) by −1 rad, pair (1, 3) by −0.1 rad.
    const [a0, a2] = turn(1, 0, -1);
    const [a1, a3] = turn(0, 1, -0.1);
    const [b0, b2] = turn(0, 1, -1);
    const [b1, b3] = turn(2, 0, -0.1);
    expect([...out].map((x) => Number(x.toFixed(5)))).toEqual([a0, a1, a2, a3, b0, b1, b2, b3].map((x) => Number(x!.toFixed(5))));
    expect(keys).toEqual(new Float32Array([1, 0, 0, 1, 0, 2, 1, 0])); // the store's tensor is untouched
    // The present repeats the rotated past plus the new key: restore puts the store's keys back.
    const present = new Float32Array([...out, 9, 9, 9, 9]);
    r.record(3, tensor(new BigInt64Array([2n]), [1, 1]));
    r.restore({ 'present.0.key': tensor(present, [1, 1, 3, 4]) });
    expect(present).toEqual(new Float32Array([1, 0, 0, 1, 0, 2, 1, 0, 9, 9, 9, 9]));
  });

  it('after reset (a failover) writes rotated keys into new buffers, leaving the ones a timed-out run was fed intact', () => {
    const r = new CacheKeyRerotation(layout(), { theta: 100, rotaryDim: 4 }, 1);
    const rotate = () => {
      r.record(0, tensor(new BigInt64Array([0n, 1n, 2n]), [1, 3]));
      const feeds: Record<string, BackendTensor> = { 'past_key_values.0.key': tensor(new Float32Array([1, 0, 0, 1, 0, 2, 1, 0]), [1, 1, 2, 4]) };
      expect(r.apply(session, feeds, [[1, 2]], [0])).toHaveLength(1);
      return feeds['past_key_values.0.key']!.data as Float32Array;
    };
    const first = rotate();
    const fedThen = Float32Array.from(first);
    expect(rotate().buffer).toBe(first.buffer); // reused from step to step
    r.reset();
    const afterReset = rotate();
    expect(afterReset.buffer).not.toBe(first.buffer);
    expect(first).toEqual(fedThen);
  });

  it('after reset (a failover), or a step with no past, restores nothing of the step whose run failed into the new presents', () => {
    const failedStep = () => {
      const r = new CacheKeyRerotation(layout(), { theta: 100, rotaryDim: 4 }, 1);
      r.record(0, tensor(new BigInt64Array([0n, 1n, 2n]), [1, 3]));
      const feeds: Record<string, BackendTensor> = { 'past_key_values.0.key': tensor(new Float32Array([1, 0, 0, 1, 0, 2, 1, 0]), [1, 1, 2, 4]) };
      expect(r.apply(session, feeds, [[1, 2]], [0])).toHaveLength(1);
      return r; // the run fails: no restore
    };
    // The failover's prefill on a fresh store: an empty past, then the new store's own presents.
    const prefill = (r: CacheKeyRerotation) => {
      expect(r.apply(session, {}, [[]], [0])).toEqual([]);
      r.record(0, tensor(new BigInt64Array([0n, 1n, 2n, 3n]), [1, 4]));
      const present = new Float32Array(16).fill(7);
      r.restore({ 'present.0.key': tensor(present, [1, 1, 4, 4]) });
      return present;
    };
    const afterReset = failedStep();
    afterReset.reset();
    expect(prefill(afterReset)).toEqual(new Float32Array(16).fill(7));
    expect(prefill(failedStep())).toEqual(new Float32Array(16).fill(7));
    // reset alone forgets the failed step's keys too (a restore with no apply in between).
    const resetOnly = failedStep();
    resetOnly.reset();
    const present = new Float32Array(12).fill(7);
    resetOnly.restore({ 'present.0.key': tensor(present, [1, 1, 3, 4]) });
    expect(present).toEqual(new Float32Array(12).fill(7));
  });

  it('feeds the store\'s tensors untouched while nothing has moved, and skips padding', () => {
    const r = new CacheKeyRerotation(layout(), { theta: 100, rotaryDim: 4 }, 2);
    // Row 1 is padded by one: its absolute slot 0 is padding; real tokens were fed at 0 and 1.
    r.record(0, tensor(new BigInt64Array([0n, 1n, 2n, 0n, 0n, 1n]), [2, 3]));
    const feeds: Record<string, BackendTensor> = { 'past_key_values.0.key': tensor(new Float32Array(2 * 3 * 4), [2, 1, 3, 4]) };
    const original = feeds['past_key_values.0.key'];
    expect(r.apply(session, feeds, [[0, 1, 2]], [0, 1])).toEqual([]);
    expect(feeds['past_key_values.0.key']).toBe(original);
  });
});


describe('positions=cache on the story model', () => {
  const weft = runtime();
  afterAll(() => weft.dispose());
  const text = readFileSync(join(storyModel, 'data/long.txt'), 'utf8').split('\n\n')[0]!;

  it('gives a sliding window the same perplexity in cache positions as in absolute positions', async () => {
    // RoPE scores depend on query-key distance only, and re-rotation keeps every distance: the
    // two runs differ by float32 rounding. Without re-rotation every cached key would sit at the
    // position it was fed at and the cache-position run would score far worse.
    const model = await weft.load(storyModel);
    const inputIds = model.tokenizer.encode(text).slice(0, 200);
    const absolute = await model.evaluate({ inputIds, router: windowRouter(48, 'absolute') });
    const cache = await model.evaluate({ inputIds, router: windowRouter(48, 'cache') });
    const full = await model.evaluate({ inputIds });
    expect(absolute.perplexity).not.toBeCloseTo(full.perplexity, 4); // the window evicts
    expect(Math.abs(cache.perplexity / absolute.perplexity - 1)).toBeLessThan(1e-4);
  });

  it('generates the same greedy tokens in cache and absolute positions, padded batches included', async () => {
    const model = await weft.load(storyModel);
    const prompts = [text.slice(0, 160), text.slice(0, 90)];
    const run = async (positions: 'absolute' | 'cache') =>
      done(await collect(model.generate({ prompt: prompts, maxTokens: 48, temperature: 0, router: windowRouter(24, positions) }))).rows.map((r) => r.ids);
    const absolute = await run('absolute');
    expect(await run('cache')).toEqual(absolute);
  });

  it('keeps the new cache intact when a step that fed re-rotated keys fails over (the retry restores nothing of it)', async () => {
    const prompt = text.slice(0, 120);
    const window = 32;
    /** Greedy ids with the window router; the backend `flaky` (onnxruntime-node) fails its run `failAt`, and the stream goes on on `node`. */
    const run = async (positions: 'absolute' | 'cache', failAt: number | undefined) => {
      let runs = 0;
      const flaky = wrappedNodeBackend({
        name: 'flaky',
        priority: 1000,
        wrapSession: (s) => ({ ...s, run: (feeds, options) => (++runs === failAt ? Promise.reject(new Error('device lost')) : s.run(feeds, options)) }),
      });
      const failing = runtime([flaky]);
      try {
        const model = await failing.load(storyModel, { backend: 'flaky', failover: {} });
        // The cache outgrows the window within the first decode steps: it is evicted, and the steps after re-rotate their keys.
        expect(model.tokenizer.encode(prompt).length + 2).toBeGreaterThan(window);
        const events = await collect(model.generate({ prompt, maxTokens: 30, temperature: 0, router: windowRouter(window, positions) }));
        expect(events.filter((e) => e.type === 'failover')).toHaveLength(failAt === undefined ? 0 : 1);
        return done(events).rows.map((r) => r.ids);
      } finally {
        await failing.dispose();
      }
    };
    // Run 6 is the fifth decode step: it fed re-rotated keys, and the retry on node is a prefill of every id so far.
    const cache = await run('cache', 6);
    // Cache and absolute positions agree after the same failover (as without one, above)…
    expect(cache).toEqual(await run('absolute', 6));
    // …and here with the run that never failed over (the retry's prefill picks the same token as the window did).
    expect(cache).toEqual(await run('cache', undefined));
  });
});
