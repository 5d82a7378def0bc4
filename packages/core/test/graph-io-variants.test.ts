import { describe, expect, it } from 'vitest';
import {
  definePlugin,
  FullPrecisionKvStore,
  InvalidOptionsError,
  ModelLoadError,
  readKvLayout,
  stepFeeds,
  type AttentionRouter,
  type GenerationHooks,
  type InferenceSession,
  type ModelConfig,
  type ValueInfo,
  type WeftModel,
} from '../src/index.js';
import { float16ToFloat32 } from '../src/generation/float16.js';
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

  it('refuses other kv stores and attention routers with an InvalidOptionsError', async () => {
    class OtherStore extends FullPrecisionKvStore {}
    const other = Object.assign(Object.create(null) as object, {
      specificationVersion: 'v1',
      name: 'int8-like',
      length: 0,
      begin: () => {},
      materialize: () => ({}),
      append: () => {},
      bytes: () => 0,
      dispose: () => {},
    });
    const store = await collect(models.variant.generate({ prompt: 'Tom', maxTokens: 2, kv: other as never })).catch((e: unknown) => e);
    expect(InvalidOptionsError.isInstance(store)).toBe(true);
    expect((store as Error).message).toMatch(/caches keys and values as float16.*the kv store "int8-like" reads them as float32\. Pass kv: 'fp32'/);
    // A subclass of the default store still keeps the presents as returned.
    expect(done(await collect(models.variant.generate({ prompt: 'Tom', maxTokens: 2, kv: new OtherStore() }))).rows[0]!.ids.length).toBe(2);
    const router: AttentionRouter = { specificationVersion: 'v1', name: 'keep-all', select: () => undefined };
    const routed = await collect(models.variant.generate({ prompt: 'Tom', maxTokens: 2, router })).catch((e: unknown) => e);
    expect(InvalidOptionsError.isInstance(routed)).toBe(true);
    expect((routed as Error).message).toMatch(/attention routers \(here "keep-all"\) read them as float32/);
    await expect(models.variant.evaluate({ inputIds: [1, 2, 3], router })).rejects.toThrow(/attention routers/);
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
