import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ModelLoadError,
  readKvLayout,
  type GenerationHooks,
  type InferenceSession,
  type ModelConfig,
  type ValueInfo,
} from '../src/index.js';
import { fixture, greedy, runtime, variantBesidePlain, wrappedNodeBackend } from './helpers.js';

/**
 * `tiny-merged` is Optimum's merged-decoder layout made from the same weights as `tiny`
 * (`models/make fixtures --only tiny-merged`): an If node on `use_cache_branch` picks the
 * with-past or the no-past subgraph, and a guard adds 1e4 to token 1000's logit whenever
 * `use_cache_branch` disagrees with "the fed past is non-empty".
 */
const GUARD_TOKEN = 1000;
const prompts = ['Once upon a time, there was a little fox named', 'Tom', 'The sun went down and the moon came up over the hill.'];

/** A node backend that counts released sessions; `hooks` are added to every generation. */
function countingRuntime(hooks: GenerationHooks[] = []) {
  let released = 0;
  const plugin = wrappedNodeBackend({ name: 'counting', priority: 1000, hooks, onRelease: () => released++ });
  return { weft: runtime([plugin]), released: () => released };
}


describe('Optimum merged decoders (use_cache_branch)', () => {
  const models = variantBesidePlain('tiny-merged');

  it('loads onnx/decoder_model_merged.onnx and reads use_cache_branch as a bool of dims [1]', () => {
    expect(models.variant.session.inputNames).toContain('use_cache_branch');
    expect(models.variant.layout).toMatchObject({ hasPast: true, hasPositionIds: true, useCacheBranch: { dims: [1] } });
    expect(models.plain.layout.useCacheBranch).toBeUndefined();
  });

  it('gives the same greedy tokens as the plain graph with the same weights, for a left-padded batch and each prompt alone', async () => {
    const batch = await greedy(models.variant, prompts);
    expect(batch).toEqual(await greedy(models.plain, prompts));
    expect(batch[0]).not.toContain(GUARD_TOKEN);
    expect(new Set(batch[0]).size).toBeGreaterThan(5);
    for (const [i, prompt] of prompts.entries()) expect((await greedy(models.variant, prompt))[0]).toEqual(batch[i]);
  });

  it('measures the same perplexity as the plain graph, stepwise and with a chunked prefill', async () => {
    const inputIds = models.plain.tokenizer.encode('Once upon a time, there was a little fox named Tom. He lived in a big forest.');
    for (const request of [{ inputIds }, { inputIds, prefillTokens: 8 }]) {
      const a = await models.variant.evaluate(request);
      const b = await models.plain.evaluate(request);
      expect(a.tokens).toBe(b.tokens);
      expect(a.nll).toBeCloseTo(b.nll, 4);
    }
  });
});

describe('what the loop feeds a merged decoder', () => {
  it('feeds use_cache_branch false on the first step only, and the graph depends on it', async () => {
    const seen: { step: number; pastLength: number; flag: number }[] = [];
    let flipFirst = false;
    const { weft } = countingRuntime([
      {
        beforeForward({ step, pastLength, feeds }) {
          const t = feeds['use_cache_branch']!;
          seen.push({ step, pastLength, flag: (t.data as Uint8Array)[0]! });
          if (flipFirst && step === 0) (t.data as Uint8Array)[0] = 1; // the step's own tensor, made fresh each step
        },
      },
    ]);
    try {
      const model = await weft.load(fixture('tiny-merged'));
      expect(model.graphFile).toBe('onnx/decoder_model_merged.onnx');
      const right = await greedy(model, prompts[0]!, 6);
      expect(seen.map((s) => s.flag)).toEqual([0, 1, 1, 1, 1, 1]);
      expect(seen.map((s) => s.pastLength > 0 ? 1 : 0)).toEqual(seen.map((s) => s.flag));
      // The wrong value on the first step (true with an empty past) trips the fixture's guard.
      flipFirst = true;
      const wrong = await greedy(model, prompts[0]!, 6);
      expect(wrong[0]![0]).toBe(GUARD_TOKEN);
      expect(wrong).not.toEqual(right);
    } finally {
      await weft.dispose();
    }
  });
});

describe('graphs with inputs Weft cannot feed', () => {
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'weft-merged-'));
  });
  afterAll(() => rm(scratch, { recursive: true, force: true }));

  it('fails at load with a ModelLoadError naming the input, and releases the session', async () => {
    // Same-length rename inside the graph's bytes: the input and every reference to it.
    const dir = join(scratch, 'token-type-ids');
    await cp(fixture('tiny-merged'), dir, { recursive: true });
    const graph = join(dir, 'onnx/decoder_model_merged.onnx');
    const bytes = await readFile(graph);
    const from = Buffer.from('attention_mask');
    const to = Buffer.from('token_type_ids');
    let renamed = 0;
    for (let at = bytes.indexOf(from); at >= 0; at = bytes.indexOf(from, at + 1), renamed++) to.copy(bytes, at);
    expect(renamed).toBeGreaterThan(1);
    await writeFile(graph, bytes);

    const { weft, released } = countingRuntime();
    try {
      const error = await weft.load(dir).catch((e: unknown) => e);
      expect(ModelLoadError.isInstance(error)).toBe(true);
      expect((error as ModelLoadError).message).toMatch(/has inputs Weft cannot feed: "token_type_ids"\. Weft feeds input_ids, attention_mask/);
      expect((error as ModelLoadError).path).toBe(graph);
      expect(released()).toBe(1);
    } finally {
      await weft.dispose();
    }
  });
});

describe('readKvLayout and use_cache_branch metadata', () => {
  const config = { numLayers: 1, numKvHeads: 2, headDim: 8, vocabSize: 16 } as ModelConfig;
  const session = (extra: ValueInfo[]): InferenceSession =>
    ({
      inputNames: ['input_ids', 'past_key_values.0.key', 'past_key_values.0.value', ...extra.map((m) => m.name)],
      outputNames: ['logits', 'present.0.key', 'present.0.value'],
      inputMetadata: extra,
      outputMetadata: [],
    }) as unknown as InferenceSession;

  it('takes the declared dims, symbolic dims as 1, and [1] when the runtime reports none', () => {
    expect(readKvLayout(session([{ name: 'use_cache_branch', type: 'bool', shape: [1] }]), config, 'g').useCacheBranch).toEqual({ dims: [1] });
    expect(readKvLayout(session([{ name: 'use_cache_branch', type: 'bool', shape: ['one'] }]), config, 'g').useCacheBranch).toEqual({ dims: [1] });
    expect(readKvLayout(session([{ name: 'use_cache_branch' }]), config, 'g').useCacheBranch).toEqual({ dims: [1] });
  });

  it('rejects a use_cache_branch that is not a single bool, and lists every unfeedable input', () => {
    expect(() => readKvLayout(session([{ name: 'use_cache_branch', type: 'int64', shape: [1] }]), config, 'g')).toThrow(/declares "use_cache_branch" as int64/);
    expect(() => readKvLayout(session([{ name: 'use_cache_branch', type: 'bool', shape: [2] }]), config, 'g')).toThrow(/with shape \[2\]; Weft feeds it a single bool/);
    expect(() => readKvLayout(session([{ name: 'token_type_ids' }, { name: 'encoder_hidden_states' }]), config, 'g')).toThrow(
      /cannot feed: "token_type_ids", "encoder_hidden_states"/,
    );
  });
});
