import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createWeft } from '@weft/core';
import { nodeBackend } from '@weft/backend-node';
import ort from 'onnxruntime-node';
import { evaluateDocuments, InterruptedError, splitDocuments } from '../src/index.js';
import { contextWindows } from '../src/eval/evaluate-documents.js';
import { cli, MODELS, storyModel } from './helpers.js';

const STORIES = `Once upon a time, there was a little girl named Lily. She loved to play outside in the sun.

Tom had a big red ball. He liked to throw it to his dog, and the dog was very happy.


One day, Sam went to the park with his mom. They saw a bird in a tree.
`;

describe.each(MODELS)('weft eval on $name', (model) => {
  let dir: string;
  let file: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-cli-eval-'));
    file = join(dir, 'stories.txt');
    // Text the model knows: the story model's own held-out stories (text far from its procedural
    // corpus gets perplexities above the vocabulary size from this small, confident model).
    const own = model.dir === storyModel ? readFileSync(join(storyModel, 'data/heldout.txt'), 'utf8').split(/\n\s*\n/).slice(0, 3).join('\n\n') : STORIES;
    await writeFile(file, own);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('--json reports a finite perplexity over every document, with KV bytes', async () => {
    const result = await cli(['eval', '--model', model.dir, '--threads', '1', '--text-file', file, '--json']);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as Record<string, number>;
    expect(Number.isFinite(report['perplexity'])).toBe(true);
    expect(report['perplexity']).toBeGreaterThan(1);
    expect(report['perplexity']).toBeLessThan(model.vocab); // better than uniform over the vocabulary
    expect(report['documents']).toBe(3);
    expect(report['tokens']).toBeGreaterThan(40);
    expect(report['perplexity']).toBeCloseTo(Math.exp(report['nll']! / report['tokens']!), 6);
    expect(report['kvBytes']).toBeGreaterThan(0);
    expect(report['kvBytesMax']).toBeGreaterThanOrEqual(report['kvBytes']!);
    expect(report['kvBytesFp32']).toBe(report['kvBytes']); // the default store is float32
    expect(report['msPerToken']).toBeGreaterThan(0);
  });

  it('gives the same perplexity with a chunked prefill (same model, same tokens)', async () => {
    const one = JSON.parse((await cli(['eval', '--model', model.dir, '--threads', '1', '--text-file', file, '--json'])).stdout) as Record<string, number>;
    const chunked = JSON.parse((await cli(['eval', '--model', model.dir, '--threads', '1', '--text-file', file, '--json', '--prefill', '8'])).stdout) as Record<
      string,
      number
    >;
    expect(chunked['tokens']).toBe(one['tokens']);
    expect(chunked['perplexity']).toBeCloseTo(one['perplexity']!, 3);
  });

  it('agrees with one uncached forward pass of the graph per document (every token after the first scored)', async () => {
    const result = await cli(['eval', '--model', model.dir, '--threads', '1', '--text-file', file, '--json']);
    const report = JSON.parse(result.stdout) as Record<string, number>;
    const documents = splitDocuments(readFileSync(file, 'utf8'));
    const weft = createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: 1 } })] });
    const session = await ort.InferenceSession.create(join(model.dir, 'onnx/model.onnx'), { intraOpNumThreads: 1 });
    try {
      const loaded = await weft.load(model.dir);
      let nll = 0;
      let tokens = 0;
      for (const document of documents) {
        const ids = loaded.tokenizer.encode(document);
        nll += await referenceNll(session, loaded.layout, ids);
        tokens += ids.length - 1;
      }
      expect(report['tokens']).toBe(tokens);
      expect(Math.abs(report['nll']! - nll) / nll).toBeLessThan(1e-4);
      expect(Math.abs(report['perplexity']! - Math.exp(nll / tokens)) / Math.exp(nll / tokens)).toBeLessThan(1e-4);
    } finally {
      await session.release();
      await weft.dispose();
    }
  });

  it('prints a readable summary without --json', async () => {
    const result = await cli(['eval', '--model', model.dir, '--threads', '1', '--text-file', file]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^model .*${model.name} \\(node\\)\\nperplexity +\\d+\\.\\d{4}\\ntokens +\\d+ scored in 3 documents\\n`));
    expect(result.stdout).toMatch(/kv bytes/);
  });

  it('reports no ms/token when every document was a single prefill', async () => {
    const short = join(dir, 'short.txt');
    await writeFile(short, 'a');
    const json = await cli(['eval', '--model', model.dir, '--threads', '1', '--text-file', short, '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ tokens: 1, msPerToken: null });
    const text = await cli(['eval', '--model', model.dir, '--threads', '1', '--text-file', short]);
    expect(text.stdout).toMatch(/ms\/token +n\/a \(no single-token step/);
  });
});

/**
 * Summed NLL of every token after the first, from one forward pass of the whole sequence with an
 * empty past (no Weft code in the path), log-softmax in float64.
 */
async function referenceNll(session: ort.InferenceSession, layout: { numLayers: number; numKvHeads: number; headDim: number }, ids: readonly number[]): Promise<number> {
  const n = ids.length;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, n]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(i)), [1, n]),
  };
  for (let i = 0; i < layout.numLayers; i++) {
    for (const kind of ['key', 'value']) feeds[`past_key_values.${i}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [1, layout.numKvHeads, 0, layout.headDim]);
  }
  const logits = (await session.run(feeds))['logits']!;
  const vocab = logits.dims[2]!;
  const data = logits.data as Float32Array;
  let nll = 0;
  for (let p = 0; p < n - 1; p++) {
    const row = data.subarray(p * vocab, (p + 1) * vocab);
    let max = -Infinity;
    for (const x of row) max = Math.max(max, x);
    let sum = 0;
    for (const x of row) sum += Math.exp(x - max);
    nll += max + Math.log(sum) - row[ids[p + 1]!]!;
  }
  return nll;
}

describe('documents of weft eval', () => {
  it('are separated by lines holding only whitespace, Unicode spaces and form feeds included', () => {
    // Before: only spaces and tabs counted, so a line of no-break spaces joined two documents.
    expect(splitDocuments('Tom ran.\n\u00a0\u3000\nSam sat.')).toEqual(['Tom ran.', 'Sam sat.']);
    expect(splitDocuments('Tom ran.\r\n\f\r\nSam sat.\n\v\t\nLily hid.')).toEqual(['Tom ran.', 'Sam sat.', 'Lily hid.']);
    expect(splitDocuments('Tom ran.\nSam sat.')).toEqual(['Tom ran.\nSam sat.']);
  });
});

describe('weft eval on a document longer than the context', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-cli-eval-long-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('splits windows of at most the context, each starting with the last id of the one before', () => {
    expect(contextWindows([1, 2, 3], 4)).toEqual([[1, 2, 3]]);
    expect(contextWindows([1, 2, 3, 4], 4)).toEqual([[1, 2, 3, 4]]);
    expect(contextWindows([1, 2, 3, 4, 5], 4)).toEqual([[1, 2, 3, 4], [4, 5]]);
    expect(contextWindows([1, 2, 3, 4, 5, 6, 7], 4)).toEqual([[1, 2, 3, 4], [4, 5, 6, 7]]);
    expect(contextWindows([1, 2, 3, 4, 5, 6, 7, 8], 4)).toEqual([[1, 2, 3, 4], [4, 5, 6, 7], [7, 8]]);
    // Every id after the first is predicted exactly once.
    const ids = Array.from({ length: 1000 }, (_, i) => i);
    const windows = contextWindows(ids, 64);
    expect(windows.every((w) => w.length >= 2 && w.length <= 64)).toBe(true);
    expect(windows.reduce((sum, w) => sum + w.length - 1, 0)).toBe(999);
    expect(windows.flatMap((w, i) => (i === 0 ? w : w.slice(1)))).toEqual(ids);
  });

  it('scores it window by window instead of refusing the file', async () => {
    const config = JSON.parse(readFileSync(join(storyModel, 'config.json'), 'utf8')) as { max_position_embeddings: number };
    const context = config.max_position_embeddings;
    // One document (no blank line) of about 1.5 contexts: the story model's long text, its paragraphs joined.
    const weft = createWeft({ plugins: [nodeBackend()] });
    let ids: number[];
    let text: string;
    try {
      const model = await weft.load(storyModel);
      const words = readFileSync(join(storyModel, 'data/long.txt'), 'utf8').slice(0, 20 * context).split(/\s+/).filter((w) => w !== '');
      text = words.join(' ');
      ids = model.tokenizer.encode(text);
      const keep = Math.ceil(1.5 * context);
      text = model.tokenizer.decode(ids.slice(1, keep));
      ids = model.tokenizer.encode(text);
    } finally {
      await weft.dispose();
    }
    expect(ids.length).toBeGreaterThan(context);
    const file = join(dir, 'long.txt');
    await writeFile(file, text);
    // Each window in one forward pass (the prefill is capped at the window's length − 1): quick.
    const evaluate = (...args: string[]) => cli(['eval', '--model', storyModel, '--threads', '1', '--text-file', file, '--prefill', String(context), ...args]);
    const result = await evaluate('--json');
    // Before: "weft: Document 1 of 1: The text has N tokens but the model's context is 1024.", exit 2.
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as Record<string, number>;
    expect(report).toMatchObject({ tokens: ids.length - 1, documents: 1, longDocuments: 1, windows: contextWindows(ids, context).length });
    expect(report['windows']).toBe(2);
    expect(Number.isFinite(report['perplexity'])).toBe(true);
    const plain = await evaluate();
    expect(plain.stdout).toMatch(new RegExp(`\\ntokens +${ids.length - 1} scored in 1 document; 1 longer than the context of ${context} tokens, scored in windows \\(2 windows in all\\)\\n`));
  });
});

describe('interrupting eval', () => {
  it('stops inside a document, not only between documents', async () => {
    const weft = createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: 1 } })] });
    try {
      const model = await weft.load(storyModel);
      // One document of ~1000 tokens: hundreds of single-token steps.
      const text = readFileSync(join(storyModel, 'data/long.txt'), 'utf8');
      const ids = model.tokenizer.encode(text).slice(0, model.config.maxPositions - 64);
      const document = model.tokenizer.decode(ids.slice(1));
      const controller = new AbortController();
      const started = performance.now();
      setTimeout(() => controller.abort(), 50);
      const outcome = await evaluateDocuments(model, [document], 1, controller.signal).catch((error: unknown) => error);
      expect(outcome).toBeInstanceOf(InterruptedError);
      expect(performance.now() - started).toBeLessThan(300);
    } finally {
      await weft.dispose();
    }
  });
});
