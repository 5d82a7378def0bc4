import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as Ort from 'onnxruntime-node';
import { ContextOverflowError, InvalidOptionsError, ModelDisposedError, type WeftModel } from '../src/index.js';
import { hasStories260k, runtime, stories260k, storyModel } from './helpers.js';

// onnxruntime-node is the node backend's dependency, not core's: resolved from there.
const ort = createRequire(new URL('../../backends/node/package.json', import.meta.url))('onnxruntime-node') as typeof Ort;

interface Shape {
  readonly layers: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly vocab: number;
}

function readShape(dir: string): Shape {
  const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, number | undefined>;
  const heads = c['num_attention_heads']!;
  return { layers: c['num_hidden_layers']!, kvHeads: c['num_key_value_heads'] ?? heads, headDim: c['head_dim'] ?? c['hidden_size']! / heads, vocab: c['vocab_size']! };
}

/**
 * The independent reference: the whole sequence in one forward pass of the graph (no cache, no
 * Weft code), each position's logits log-softmaxed in float64; returns the NLL of every next token.
 */
async function referenceLosses(session: Ort.InferenceSession, shape: Shape, ids: readonly number[]): Promise<number[]> {
  const n = ids.length;
  const feeds: Record<string, Ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, n]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(i)), [1, n]),
  };
  for (let i = 0; i < shape.layers; i++) {
    for (const kind of ['key', 'value']) {
      feeds[`past_key_values.${i}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [1, shape.kvHeads, 0, shape.headDim]);
    }
  }
  const logits = (await session.run(feeds))['logits']!;
  expect(logits.dims).toEqual([1, n, shape.vocab]);
  const data = logits.data as Float32Array;
  const losses: number[] = [];
  for (let p = 0; p < n - 1; p++) {
    const row = data.subarray(p * shape.vocab, (p + 1) * shape.vocab);
    let max = -Infinity;
    for (const x of row) max = Math.max(max, x);
    let sum = 0;
    for (const x of row) sum += Math.exp(x - max);
    losses.push(max + Math.log(sum) - row[ids[p + 1]!]!);
  }
  return losses;
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
const relative = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);

const MODELS = [
  { name: 'models/story', dir: storyModel, present: true, text: () => readFileSync(join(storyModel, 'data/heldout.txt'), 'utf8').split(/\n\s*\n/).slice(0, 2).join(' ') },
  {
    name: 'stories260k (third-party Llama, GQA, BOS-adding tokenizer)',
    dir: stories260k,
    present: hasStories260k,
    text: () => 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. One day, she saw a big red ball.',
  },
];

for (const m of MODELS) {
  describe.skipIf(!m.present)(`model.evaluate against one uncached forward pass of ${m.name}`, () => {
    const weft = runtime();
    let model: WeftModel;
    let session: Ort.InferenceSession;
    let shape: Shape;
    let ids: number[];
    let losses: number[];
    beforeAll(async () => {
      model = await weft.load(m.dir);
      shape = readShape(m.dir);
      session = await ort.InferenceSession.create(join(m.dir, 'onnx/model.onnx'), { intraOpNumThreads: 1 });
      ids = model.tokenizer.encode(m.text());
      losses = await referenceLosses(session, shape, ids);
    });
    afterAll(async () => {
      await session?.release();
      await weft.dispose();
    });

    it('scores every token after the first (BOS is context, not a prediction), summed NLL, exp of the mean', async () => {
      expect(ids[0]).toBe(model.generationConfig.bosTokenId ?? model.config.bosTokenId ?? 1); // the tokenizer adds BOS
      expect(ids.length).toBeGreaterThan(30);
      const result = await model.evaluate({ inputIds: ids });
      expect(result.tokens).toBe(ids.length - 1);
      const nll = sum(losses);
      expect(relative(result.nll, nll)).toBeLessThan(1e-4);
      expect(relative(result.perplexity, Math.exp(nll / losses.length))).toBeLessThan(1e-4);
      expect(result.perplexity).toBeCloseTo(Math.exp(result.nll / result.tokens), 10);
    });

    it('gives the same numbers for every prefill length, the whole text in one pass included', async () => {
      const nll = sum(losses);
      for (const prefillTokens of [2, 7, ids.length - 2, ids.length - 1]) {
        const result = await model.evaluate({ inputIds: ids, prefillTokens });
        expect(result.tokens).toBe(ids.length - 1);
        expect(relative(result.nll, nll)).toBeLessThan(1e-4);
      }
    });

    it('scores a two-token text as the loss of its second token', async () => {
      const result = await model.evaluate({ inputIds: ids.slice(0, 2) });
      expect(result.tokens).toBe(1);
      expect(relative(result.nll, losses[0]!)).toBeLessThan(1e-4);
    });

    it('scores a text exactly as long as the context', async () => {
      const context = model.config.maxPositions;
      const long = Array.from({ length: context }, (_, i) => ids[i % ids.length]!);
      const reference = sum(await referenceLosses(session, shape, long));
      // The last 32 tokens one per step: positions up to the end of the context go through the cache.
      const result = await model.evaluate({ inputIds: long, prefillTokens: context - 32 });
      expect(result.tokens).toBe(context - 1);
      expect(relative(result.nll, reference)).toBeLessThan(1e-4);
      // One more token is past the context: refused with the numbers, not scored.
      const over = await model.evaluate({ inputIds: [...long, ids[1]!], prefillTokens: context - 1 }).catch((e: unknown) => e);
      expect(ContextOverflowError.isInstance(over)).toBe(true);
      expect(over).toMatchObject({ promptTokens: context + 1, contextLength: context });
    });
  });
}

describe('model.evaluate on input it cannot score', () => {
  const weft = runtime();
  let model: WeftModel;
  beforeAll(async () => {
    model = await weft.load(storyModel);
  });
  afterAll(() => weft.dispose());

  const rejection = (request: object) => model.evaluate(request as never).catch((e: unknown) => e);

  it.each([
    ['no token', { inputIds: [] }, /^Perplexity needs at least two tokens \(got 0\): the first is context only/, 'inputIds'],
    ['one token', { inputIds: [1] }, /^Perplexity needs at least two tokens \(got 1\)/, 'inputIds'],
    ['an id past the vocabulary', { inputIds: [1, 40, 1024] }, /^inputIds must be integers in \[0, 1024\) \(inputIds\[2\] is 1024\)/, 'inputIds'],
    ['a negative id', { inputIds: [1, -1] }, /\(inputIds\[1\] is -1\)/, 'inputIds'],
    ['a fractional id', { inputIds: [1, 40.5] }, /\(inputIds\[1\] is 40\.5\)/, 'inputIds'],
    ['an id as a string', { inputIds: [1, '40'] }, /\(inputIds\[1\] is "40"\)/, 'inputIds'],
    ['a hole in the list', { inputIds: [1, , 40] }, /\(inputIds\[1\] is missing: the array has a hole there\)/, 'inputIds'],
    ['a prefill of every token', { inputIds: [1, 40, 50], prefillTokens: 3 }, /^prefillTokens must be an integer in \[1, 2\] \(got 3\)/, 'prefillTokens'],
    ['a prefill of 0', { inputIds: [1, 40, 50], prefillTokens: 0 }, /\(got 0\)/, 'prefillTokens'],
    ['a prefill given as a string', { inputIds: [1, 40, 50], prefillTokens: '2' }, /\(got "2"\)/, 'prefillTokens'],
  ])('refuses %s with an InvalidOptionsError naming the option', async (_what, request, message, option) => {
    const error = await rejection(request);
    expect(InvalidOptionsError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(message);
    expect(error).toMatchObject({ option });
  });

  it('refuses evaluation after dispose with a ModelDisposedError', async () => {
    const other = await weft.load(storyModel);
    await other.dispose();
    const error = await other.evaluate({ inputIds: [1, 40, 50] }).catch((e: unknown) => e);
    expect(ModelDisposedError.isInstance(error)).toBe(true);
  });
});
