import { describe, expect, it } from 'vitest';
import {
  definePlugin,
  FullPrecisionKvStore,
  ModelLoadError,
  readKvLayout,
  stepFeeds,
  type AttentionRouter,
  type GenerationHooks,
  type KvCacheStore,
  type InferenceSession,
  type ModelConfig,
  type ValueInfo,
  type WeftModel,
} from '../src/index.js';
import { float16ToFloat32, float32ToFloat16 } from '../src/generation/float16.js';
import { collect, done, fixture, greedy, kvLayout, runtime, variantBesidePlain } from './helpers.js';

/**
 * `tiny-logits-to-keep`, `tiny-int32` and `tiny-fp16` are `tiny` (same weights) with the I/O
 * variants third-party exports have (`models/make/io_variants.py`): a `num_logits_to_keep` input
 * slicing the hidden states before the output projection; int32 input_ids / attention_mask /
 * position_ids; float16 past_key_values / present / logits around the float32 computation.
 */
const prompts = ['Once upon a time, there was a little fox named', 'Tom', 'The sun went down and the moon came up over the hill.'];
const text = 'Once upon a time, there was a little fox named Tom. He lived in a big forest.';


/** A runtime whose hooks record, per step, each feed's type and value and the logits' dims. */
function recordingRuntime() {
  const steps: { feeds: Record<string, { type: string; data: unknown[] }>; logitsDims?: readonly number[] }[] = [];
  const hooks: GenerationHooks = {
    beforeForward({ feeds }) {
      const seen: Record<string, { type: string; data: unknown[] }> = {};
      for (const name of ['input_ids', 'attention_mask', 'position_ids', 'num_logits_to_keep']) {
        const t = feeds[name];
        if (t) seen[name] = { type: t.type, data: Array.from(t.data as ArrayLike<unknown>) };
      }
      steps.push({ feeds: seen });
    },
    afterForward({ outputs }) {
      steps[steps.length - 1]!.logitsDims = outputs['logits']!.dims;
    },
  };
  return { weft: runtime([definePlugin({ name: 'recorder', version: '1.0.0', apiVersion: '^0.1.0', setup: (ctx) => ctx.addHooks(hooks) })]), steps };
}

describe('graphs with a num_logits_to_keep input', () => {
  const models = variantBesidePlain('tiny-logits-to-keep');

  it('loads, reading the input as an int64 scalar', () => {
    expect(models.variant.session.inputNames).toContain('num_logits_to_keep');
    expect(models.variant.layout.logitsToKeep).toEqual({ name: 'num_logits_to_keep', type: 'int64', dims: [] });
    expect(models.plain.layout.logitsToKeep).toBeUndefined();
  });

  it('gives the same greedy tokens as the plain graph, for a left-padded batch and each prompt alone', async () => {
    const batch = await greedy(models.variant, prompts);
    expect(batch).toEqual(await greedy(models.plain, prompts));
    expect(new Set(batch[0]).size).toBeGreaterThan(5);
    for (const [i, prompt] of prompts.entries()) expect((await greedy(models.variant, prompt))[0]).toEqual(batch[i]);
  });

  it('feeds 1 on every step, the prefill included, so the graph returns one position of logits per row', async () => {
    const { weft: recording, steps } = recordingRuntime();
    try {
      const model = await recording.load(fixture('tiny-logits-to-keep'));
      await greedy(model, prompts, 4);
      expect(steps.length).toBe(4);
      expect(steps[0]!.feeds['input_ids']!.data.length).toBeGreaterThan(3 * 5);
      for (const step of steps) {
        expect(step.feeds['num_logits_to_keep']).toEqual({ type: 'int64', data: [1n] });
        expect(step.logitsDims).toEqual([3, 1, 1024]);
      }
    } finally {
      await recording.dispose();
    }
  });

  it('measures the same perplexity as the plain graph, stepwise and with a chunked prefill (every fed position scored)', async () => {
    const inputIds = models.plain.tokenizer.encode(text);
    for (const request of [{ inputIds }, { inputIds, prefillTokens: 8 }, { inputIds, prefillTokens: inputIds.length - 1 }]) {
      const a = await models.variant.evaluate(request);
      const b = await models.plain.evaluate(request);
      expect(a.tokens).toBe(b.tokens);
      expect(a.nll).toBeCloseTo(b.nll, 4);
    }
  });
});

describe('graphs with int32 input_ids, attention_mask and position_ids', () => {
  const models = variantBesidePlain('tiny-int32');

  it('loads, reading the declared types', () => {
    expect(models.variant.layout.inputTypes).toEqual({ inputIds: 'int32', attentionMask: 'int32', positionIds: 'int32' });
    expect(models.plain.layout.inputTypes).toBeUndefined();
  });

  it('gives the same greedy tokens and perplexity as the plain graph (left-padded batch, chunked prefill)', async () => {
    expect(await greedy(models.variant, prompts)).toEqual(await greedy(models.plain, prompts));
    const inputIds = models.plain.tokenizer.encode(text);
    for (const request of [{ inputIds }, { inputIds, prefillTokens: 8 }]) {
      expect((await models.variant.evaluate(request)).nll).toBeCloseTo((await models.plain.evaluate(request)).nll, 4);
    }
  });

  it('feeds each input as int32', async () => {
    const { weft: recording, steps } = recordingRuntime();
    try {
      const model = await recording.load(fixture('tiny-int32'));
      await greedy(model, prompts, 2);
      for (const step of steps) {
        for (const name of ['input_ids', 'attention_mask', 'position_ids']) expect(step.feeds[name]!.type).toBe('int32');
      }
    } finally {
      await recording.dispose();
    }
  });

  it('stepFeeds builds the same int32 values as int64 ones, padding masked', () => {
    const session = { createTensor: (type: string, data: unknown, dims: readonly number[]) => ({ type, data, dims, dispose() {} }) } as unknown as Pick<
      InferenceSession,
      'createTensor'
    >;
    const shape = { layers: 1, kvHeads: 2, headDim: 8 };
    const placement = { slotPositions: [0, 1, 2], nextPosition: 3 };
    const tokens = [[5, 6], [7, 8]];
    for (const pads of [[0, 0], [2, 0]]) {
      const wide = stepFeeds(session, kvLayout(shape), tokens, pads, placement);
      const narrow = stepFeeds(session, kvLayout(shape, { inputTypes: { inputIds: 'int32', attentionMask: 'int32', positionIds: 'int32' } }), tokens, pads, placement);
      for (const name of ['input_ids', 'attention_mask', 'position_ids']) {
        expect(narrow[name]!.type).toBe('int32');
        expect(narrow[name]!.dims).toEqual(wide[name]!.dims);
        expect(Array.from(narrow[name]!.data as Int32Array)).toEqual(Array.from(wide[name]!.data as BigInt64Array, Number));
      }
      if (pads[0] === 2) expect(Array.from(narrow['attention_mask']!.data as Int32Array)).toEqual([0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
    }
  });
});

describe('graphs with float16 past_key_values, present and logits', () => {
  const models = variantBesidePlain('tiny-fp16');

  it('loads, reading the cache and the logits as float16', () => {
    expect(models.variant.layout).toMatchObject({ hasPast: true, pastType: 'float16', logitsType: 'float16' });
    expect(models.plain.layout.pastType).toBeUndefined();
    expect(models.plain.layout.logitsType).toBeUndefined();
  });

  it('gives the greedy tokens of the plain graph with the default store, for a left-padded batch, with finite logprobs', async () => {
    const events = await collect(models.variant.generate({ prompt: prompts, maxTokens: 24 }));
    const rows = done(events).rows.map((r) => r.ids);
    expect(rows).toEqual(await greedy(models.plain, prompts));
    const logprobs = events.flatMap((e) => (e.type === 'token' ? [e.logprob] : []));
    expect(logprobs.length).toBeGreaterThan(0);
    for (const p of logprobs) expect(Number.isFinite(p) && p <= 0).toBe(true);
    // The cache holds float16: half the bytes of float32.
    const kvBytes = (model: WeftModel) => collect(model.generate({ prompt: 'Tom', maxTokens: 4 })).then((e) => done(e).kvBytes);
    expect(await kvBytes(models.variant)).toBe((await kvBytes(models.plain)) / 2);
  });

  it('measures the perplexity of the plain graph to float16 precision', async () => {
    const inputIds = models.plain.tokenizer.encode(text);
    for (const request of [{ inputIds, kv: 'fp32' }, { inputIds, prefillTokens: 8 }]) {
      const a = await models.variant.evaluate(request);
      const b = await models.plain.evaluate(request);
      expect(Math.abs(a.nll - b.nll) / b.nll).toBeLessThan(2e-3);
    }
  });

  /** A store that is not core's default (not a subclass), delegating to one, recording what it is given. */
  function recordingStore(float16Cache?: boolean) {
    const inner = new FullPrecisionKvStore();
    const seen = { pastTypes: new Set<string | undefined>(), presentTypes: new Set<string>() };
    const store: KvCacheStore = {
      specificationVersion: 'v1',
      name: 'recording',
      ...(float16Cache === undefined ? {} : { float16Cache }),
      get length() {
        return inner.length;
      },
      begin(init) {
        seen.pastTypes.add(init.layout.pastType);
        inner.begin(init);
      },
      materialize: () => inner.materialize(),
      append(presents) {
        for (const t of Object.values(presents)) seen.presentTypes.add(t.type);
        inner.append(presents);
      },
      bytes: () => inner.bytes(),
      slotPositions: () => inner.slotPositions(),
      retain: (selection) => inner.retain(selection),
      dispose: () => inner.dispose(),
    };
    return { store, seen };
  }
  /** Keeps the first 2 slots and the newest 6 (a sink window), positions as fed. */
  const sinkWindow: AttentionRouter = {
    specificationVersion: 'v1',
    name: 'sink-window-2-6',
    select: ({ cacheLength }) => (cacheLength <= 8 ? undefined : { kind: 'shared', slots: [0, 1, ...Array.from({ length: 6 }, (_, i) => cacheLength - 6 + i)] }),
  };

  it('runs other kv stores on float32 copies of the cache: the same greedy tokens as the default store, a float32 layout for the store', async () => {
    const { store, seen } = recordingStore();
    const events = await collect(models.variant.generate({ prompt: prompts, maxTokens: 24, kv: store }));
    expect(done(events).rows.map((r) => r.ids)).toEqual(await greedy(models.variant, prompts));
    expect([...seen.pastTypes]).toEqual([undefined]);
    expect([...seen.presentTypes]).toEqual(['float32']);
    // evaluate too: float16 -> float32 -> float16 loses nothing, so the same loss to the last bit.
    const inputIds = models.plain.tokenizer.encode(text);
    expect((await models.variant.evaluate({ inputIds, kv: recordingStore().store })).nll).toBe((await models.variant.evaluate({ inputIds })).nll);
  });

  it('leaves the float16 cache to a store that declares float16Cache, unless a router re-rotates keys', async () => {
    const native = recordingStore(true);
    const events = await collect(models.variant.generate({ prompt: prompts, maxTokens: 24, kv: native.store }));
    expect(done(events).rows.map((r) => r.ids)).toEqual(await greedy(models.variant, prompts));
    expect([...native.seen.pastTypes]).toEqual(['float16']);
    expect([...native.seen.presentTypes]).toEqual(['float16']);
    // A router with positions: 'cache' re-rotates keys in float32: the store gets a float32 cache then.
    const rerotated = recordingStore(true);
    const cache: AttentionRouter = { ...sinkWindow, name: 'sink-window-cache', positions: 'cache' };
    await collect(models.variant.generate({ prompt: prompts[0]!, maxTokens: 12, kv: rerotated.store, router: cache }));
    expect([...rerotated.seen.pastTypes]).toEqual([undefined]);
    expect([...rerotated.seen.presentTypes]).toEqual(['float32']);
    // float16Cache: false is the same as leaving it out.
    const declined = recordingStore(false);
    await collect(models.variant.generate({ prompt: 'Tom', maxTokens: 4, kv: declined.store }));
    expect([...declined.seen.presentTypes]).toEqual(['float32']);
  });

  it('runs attention routers, in generation and evaluate, as on the plain graph', async () => {
    const plain = done(await collect(models.plain.generate({ prompt: prompts[0]!, maxTokens: 24, router: sinkWindow })));
    const half = done(await collect(models.variant.generate({ prompt: prompts[0]!, maxTokens: 24, router: sinkWindow })));
    expect(half.rows[0]!.ids).toEqual(plain.rows[0]!.ids);
    // The router evicted: the cache kept 8 slots, of float32 (the default store, bridged).
    expect(half.kvBytes).toBe(plain.kvBytes);
    const inputIds = models.plain.tokenizer.encode(text);
    const a = await models.variant.evaluate({ inputIds, router: sinkWindow });
    const b = await models.plain.evaluate({ inputIds, router: sinkWindow });
    expect(Math.abs(a.nll - b.nll) / b.nll).toBeLessThan(2e-3);
    expect(a.nll).not.toBe((await models.variant.evaluate({ inputIds })).nll);
  });

  it('runs the default store after a bridged run on the same session: the empty first-step past is float16 again', async () => {
    // A fresh session: the first step's empty past tensors are made once per session and batch size.
    const weft = runtime();
    try {
      const model = await weft.load(fixture('tiny-fp16'));
      const inputIds = model.tokenizer.encode(text);
      // A router bridges the default store (float32 layout): its empty past is float32, converted for the graph.
      const routed = done(await collect(model.generate({ prompt: 'Tom', maxTokens: 4, router: sinkWindow })));
      const routedNll = (await model.evaluate({ inputIds, router: sinkWindow })).nll;
      // Without one the store feeds the graph itself, so the empty past must be float16 (it was the float32 one).
      const plain = done(await collect(model.generate({ prompt: 'Tom', maxTokens: 4 })));
      expect(plain.rows[0]!.ids).toEqual(routed.rows[0]!.ids);
      expect(Number.isFinite((await model.evaluate({ inputIds })).nll)).toBe(true);
      expect(Number.isFinite(routedNll)).toBe(true);
    } finally {
      await weft.dispose();
    }
  });

  it('converts float32 to float16 bits rounding to nearest, ties to even, for every float16 value', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const values = float16ToFloat32(all, 0, all.length);
    const back = float32ToFloat16(values);
    for (let h = 0; h < 65536; h++) {
      if (Number.isNaN(values[h])) expect(back[h]! & 0x7fff, `NaN ${h}`).toBeGreaterThan(0x7c00);
      else if (back[h] !== h) expect.fail(`0x${h.toString(16)} came back as 0x${back[h]!.toString(16)}`);
    }
    // Between neighbours (same sign, below the largest finite): the midpoint goes to the even one,
    // anything past it to the nearer one.
    const next = new Float32Array(1);
    const nextBits = new Uint32Array(next.buffer);
    const nudge = (v: number, up: boolean) => {
      next[0] = v;
      nextBits[0] = nextBits[0]! + ((v >= 0) === up ? 1 : -1);
      return next[0]!;
    };
    for (const h of [0x0000, 0x0001, 0x0002, 0x03ff, 0x0400, 0x3bff, 0x3c00, 0x3c01, 0x7bfe, 0x8001, 0xbc00]) {
      const mid = (values[h]! + values[h + 1]!) / 2;
      const even = h % 2 === 0 ? h : h + 1;
      expect(float32ToFloat16(Float32Array.of(mid))[0], `midway after 0x${h.toString(16)}`).toBe(even);
      const away = h & 0x8000 ? false : true;
      expect(float32ToFloat16(Float32Array.of(nudge(mid, away)))[0]).toBe(h + 1);
      expect(float32ToFloat16(Float32Array.of(nudge(mid, !away)))[0]).toBe(h);
    }
    // Random float32 values across the float16 range: never nearer to a neighbour of the result.
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const samples = Float32Array.from({ length: 20_000 }, () => (random() - 0.5) * 2 ** (Math.floor(random() * 44) - 26));
    const halves = float32ToFloat16(samples);
    samples.forEach((v, i) => {
      const h = halves[i]!;
      const d = Math.abs(v - values[h]!);
      for (const n of [h - 1, h + 1]) if ((n & 0x7fff) < 0x7c00 && (n >> 15) === (h >> 15)) expect(d, `${v} -> 0x${h.toString(16)}`).toBeLessThanOrEqual(Math.abs(v - values[n]!));
    });
    // Far below the smallest subnormal, 0.
    expect(Array.from(float32ToFloat16(Float32Array.of(65519, 1e-9, -1e-9, 2 ** -25, 2 ** -25 * 1.0001)))).toEqual([0x7bff, 0, 0x8000, 0, 1]);
    expect(float32ToFloat16(Float32Array.of(Number.NaN))[0]! & 0x7fff).toBeGreaterThan(0x7c00);
  });

  it('saturates finite values past the largest float16 to ±65504 (they fitted before a store approximated them), not Infinity', () => {
    // From 65520 (the midpoint of 65504 and 65536, which rounds to even: Infinity) on. An int8
    // group of 0 … 65504 with an fp16 scale (rounded up to 257) dequantises 65504 as 255 · 257 = 65535.
    const finite = Float32Array.of(65520, 65535, 65536, 70000, 1e6, 3.4e38, -65520, -65535, -1e6);
    expect(Array.from(float32ToFloat16(finite))).toEqual([...Array(6).fill(0x7bff), ...Array(3).fill(0xfbff)]);
    // Infinity stays Infinity, NaN NaN; values just inside the range are unchanged.
    expect(Array.from(float32ToFloat16(Float32Array.of(Infinity, -Infinity, 65504, 65519.99, -65504)))).toEqual([0x7c00, 0xfc00, 0x7bff, 0x7bff, 0xfbff]);
    expect(float32ToFloat16(Float32Array.of(-Number.NaN))[0]! & 0x7fff).toBeGreaterThan(0x7c00);
  });

  it('converts float16 bits to float32', () => {
    const bits = Uint16Array.of(0x3c00, 0xc000, 0x7c00, 0xfc00, 0x0001, 0x3555, 0x0000, 0x8000);
    expect(Array.from(float16ToFloat32(bits, 0, bits.length))).toEqual([1, -2, Infinity, -Infinity, 2 ** -24, 0.333251953125, 0, -0]);
    expect(float16ToFloat32(Uint16Array.of(0x7e00), 0, 1)[0]).toBeNaN();
    expect(Array.from(float16ToFloat32(bits, 1, 3))).toEqual([-2, Infinity]);
    // Where the platform has Float16Array, backends may hand over numbers.
    expect(Array.from(float16ToFloat32([0.5, 1.5], 0, 2))).toEqual([0.5, 1.5]);
  });
});

describe('readKvLayout and graph I/O types', () => {
  const config = { numLayers: 1, numKvHeads: 2, headDim: 8, vocabSize: 16 } as ModelConfig;
  const session = (inputs: ValueInfo[], outputs: ValueInfo[] = [{ name: 'logits', type: 'float32' }]): InferenceSession =>
    ({
      inputNames: inputs.map((i) => i.name),
      outputNames: outputs.map((o) => o.name),
      inputMetadata: inputs,
      outputMetadata: outputs,
    }) as unknown as InferenceSession;
  const ids: ValueInfo = { name: 'input_ids', type: 'int64' };
  const cache = (past: string, present: string): [ValueInfo[], ValueInfo[]] => [
    [ids, { name: 'past_key_values.0.key', type: past as 'float32' }, { name: 'past_key_values.0.value', type: past as 'float32' }],
    [{ name: 'logits', type: 'float32' }, { name: 'present.0.key', type: present as 'float32' }, { name: 'present.0.value', type: present as 'float32' }],
  ];

  it('reads logits_to_keep of the declared integer type and single-element shape', () => {
    expect(readKvLayout(session([ids, { name: 'logits_to_keep', type: 'int32', shape: [1] }]), config, 'g.onnx').logitsToKeep).toEqual({
      name: 'logits_to_keep',
      type: 'int32',
      dims: [1],
    });
    expect(() => readKvLayout(session([ids, { name: 'num_logits_to_keep', type: 'float32' }]), config, 'g.onnx')).toThrow(ModelLoadError);
    expect(() => readKvLayout(session([ids, { name: 'num_logits_to_keep', type: 'int64', shape: [2] }]), config, 'g.onnx')).toThrow(/feeds it a single integer/);
    expect(() => readKvLayout(session([ids, { name: 'num_logits_to_keep' }, { name: 'logits_to_keep' }]), config, 'g.onnx')).toThrow(/both "num_logits_to_keep" and "logits_to_keep"/);
  });

  it('refuses id inputs of other integer types, and caches other than float32 or float16 alike', () => {
    expect(() => readKvLayout(session([{ name: 'input_ids', type: 'int8' }]), config, 'g.onnx')).toThrow(/declares "input_ids" as int8; Weft feeds it as int64 or int32/);
    expect(readKvLayout(session(...cache('float16', 'float16')), config, 'g.onnx').pastType).toBe('float16');
    expect(() => readKvLayout(session(...cache('float16', 'float32')), config, 'g.onnx')).toThrow(
      /declares its past_key_values\.\* \/ present\.\* as float16 and float32; Weft caches keys and values as float32 or float16/,
    );
    expect(() => readKvLayout(session(...cache('int8', 'int8')), config, 'g.onnx')).toThrow(ModelLoadError);
  });

  it('names the types it reads when refusing logits', () => {
    const error = (() => {
      try {
        readKvLayout(session([ids], [{ name: 'logits', type: 'bfloat16' as 'float32' }]), config, 'g.onnx');
      } catch (e) {
        return e;
      }
    })();
    expect(ModelLoadError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/declares its "logits" output as bfloat16; Weft reads float32 or float16 logits only/);
  });
});
