import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kvCompressors } from '../../plugins/kv/src/index.js';
import { attentionRouters } from '../../plugins/attention/src/index.js';
import { definePlugin, FullPrecisionKvStore, InvalidOptionsError, PluginError, type AttentionRouter, type KvCacheStore, type WeftModel } from '../src/index.js';
import { fixture, runtime, storyModel } from './helpers.js';

/** The first two held-out stories of models/story, as one text (~890 tokens). */
const heldout = (): string => readFileSync(join(storyModel, 'data/heldout.txt'), 'utf8').split(/\n\s*\n/).slice(0, 2).join(' ');

/** A float32 store that records its bytes after every append and after every eviction. */
function bytesRecordingStore() {
  const inner = new FullPrecisionKvStore();
  const bytes: number[] = [];
  const store: KvCacheStore = {
    specificationVersion: 'v1',
    name: 'bytes-recording',
    get length() {
      return inner.length;
    },
    begin: (init) => inner.begin(init),
    materialize: () => inner.materialize(),
    append(presents) {
      inner.append(presents);
      bytes.push(inner.bytes());
    },
    bytes: () => inner.bytes(),
    slotPositions: () => inner.slotPositions(),
    retain(selection) {
      inner.retain(selection);
      bytes.push(inner.bytes());
    },
    dispose: () => inner.dispose(),
  };
  return { store, bytes };
}

describe('model.evaluate through the KV stores of @weft/plugin-kv and the routers of @weft/plugin-attention', () => {
  const weft = runtime([kvCompressors(), attentionRouters()]);
  let model: WeftModel;
  let inputIds: number[];
  beforeAll(async () => {
    model = await weft.load(storyModel);
    inputIds = model.tokenizer.encode(heldout()).slice(0, 400);
  });
  afterAll(() => weft.dispose());

  it('gives the default store’s numbers to the last bit with kv: "fp32"', async () => {
    const plain = await model.evaluate({ inputIds });
    const named = await model.evaluate({ inputIds, kv: 'fp32' });
    expect(named.nll).toBe(plain.nll);
    expect(named.perplexity).toBe(plain.perplexity);
    expect(named.kvBytes).toBe(plain.kvBytes);
    const slot = model.layout.numLayers * 2 * model.layout.numKvHeads * model.layout.headDim * 4;
    // The last token is scored, never fed: the cache ends with one slot per other token.
    expect(plain.kvBytes).toBe((inputIds.length - 1) * slot);
    expect(plain.kvBytesFp32).toBe(plain.kvBytes);
  });

  it('scores through the compressed cache: finite, a little off float32, with the store’s own bytes', async () => {
    const plain = await model.evaluate({ inputIds });
    for (const kv of ['fp16', 'int8', 'int4', 'kivi', 'temporal']) {
      const result = await model.evaluate({ inputIds, kv });
      expect(result.tokens, kv).toBe(plain.tokens);
      expect(Number.isFinite(result.perplexity), kv).toBe(true);
      // The plugin's store really serves the steps: the numbers move, but not far.
      expect(result.nll, kv).not.toBe(plain.nll);
      expect(Math.abs(result.perplexity / plain.perplexity - 1), kv).toBeLessThan(0.05);
      expect(result.kvBytes, kv).toBeLessThan(plain.kvBytes);
      expect(result.kvBytesFp32, kv).toBe(plain.kvBytesFp32);
    }
  });

  it('reports the store’s bytes as they are after the last step (eviction included)', async () => {
    const { store, bytes } = bytesRecordingStore();
    const result = await model.evaluate({ inputIds, kv: store, router: { name: 'window', options: { budget: 64 } } });
    expect(bytes.length).toBeGreaterThan(inputIds.length); // appends and evictions
    expect(result.kvBytes).toBe(bytes.at(-1));
    expect(result.kvBytes).toBe(64 * model.layout.numLayers * 2 * model.layout.numKvHeads * model.layout.headDim * 4);
  });

  it('numbers the router’s steps as generation does: 0 for the prefill, then one more per forward pass', async () => {
    const seen: string[] = [];
    const recorder: AttentionRouter = {
      specificationVersion: 'v1',
      name: 'step-recorder',
      observe: ({ step }) => void seen.push(`observe ${step}`),
      select: ({ step }) => {
        seen.push(`select ${step}`);
        return undefined;
      },
    };
    await model.evaluate({ inputIds: inputIds.slice(0, 6), prefillTokens: 3, router: recorder });
    // Before: the first single-token step was numbered 0 again (0, 0, 1).
    expect(seen).toEqual(['observe 0', 'select 0', 'observe 1', 'select 1', 'observe 2', 'select 2']);
    seen.length = 0;
    await model.text({ inputIds: inputIds.slice(0, 3), maxTokens: 3, router: recorder });
    expect(seen).toEqual(['observe 0', 'select 0', 'observe 1', 'select 1', 'observe 2', 'select 2']);
  });
});

describe('model.evaluate on a graph with an input only a plugin feeds', () => {
  let scratch: string;
  let dir: string;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'weft-evaluate-feeds-'));
    // The tiny fixture with its attention mask renamed: core no longer feeds it, a plugin's beforeForward does.
    dir = join(scratch, 'plugin-fed');
    await cp(fixture('tiny'), dir, { recursive: true });
    const graph = join(dir, 'onnx/model.onnx');
    const bytes = await readFile(graph);
    const [from, to] = [Buffer.from('attention_mask'), Buffer.from('token_type_ids')];
    for (let at = bytes.indexOf(from); at >= 0; at = bytes.indexOf(from, at + 1)) to.copy(bytes, at);
    await writeFile(graph, bytes);
  });
  afterAll(() => rm(scratch, { recursive: true, force: true }));

  const feeder = (seen: { step: number; pastLength: number; fed: number }[]) =>
    definePlugin({
      name: 'token-type-feeder',
      version: '1.0.0',
      apiVersion: '^0.1.0',
      setup: (ctx) =>
        ctx.addHooks({
          feeds: ['token_type_ids'],
          beforeForward({ step, feeds, batchSize, pastLength, session }) {
            const fed = feeds['input_ids']!.dims[1]!;
            seen.push({ step, pastLength, fed });
            const total = pastLength + fed;
            feeds['token_type_ids'] = session.createTensor('int64', new BigInt64Array(batchSize * total).fill(1n), [batchSize, total]);
          },
        }),
    });

  it('runs the beforeForward hooks, so it scores what the plain graph scores', async () => {
    const seen: { step: number; pastLength: number; fed: number }[] = [];
    const withPlugin = runtime([feeder(seen)]);
    const plain = runtime();
    try {
      const model = await withPlugin.load(dir);
      const reference = await plain.load(fixture('tiny'));
      const inputIds = reference.tokenizer.encode('Once upon a time, there was a little girl named Lily.');
      // Before: the graph ran without token_type_ids and evaluate failed with a BackendError.
      const result = await model.evaluate({ inputIds, prefillTokens: 3 });
      expect(result.nll).toBeCloseTo((await reference.evaluate({ inputIds, prefillTokens: 3 })).nll, 6);
      expect(seen.slice(0, 3)).toEqual([
        { step: 0, pastLength: 0, fed: 3 },
        { step: 1, pastLength: 3, fed: 1 },
        { step: 2, pastLength: 4, fed: 1 },
      ]);
      expect(seen).toHaveLength(inputIds.length - 3);
    } finally {
      await withPlugin.dispose();
      await plain.dispose();
    }
  });

  it('names the plugin whose hook removes a feed the graph needs', async () => {
    const breaker = definePlugin({
      name: 'feed-remover',
      version: '1.0.0',
      apiVersion: '^0.1.0',
      setup: (ctx) => ctx.addHooks({ beforeForward: ({ feeds }) => void delete feeds['position_ids'] }),
    });
    const weft = runtime([breaker]);
    try {
      const model = await weft.load(fixture('tiny'));
      const error = await model.evaluate({ inputIds: [1, 40, 50, 60] }).catch((e: unknown) => e);
      expect(PluginError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({ plugin: 'feed-remover', stage: 'beforeForward' });
    } finally {
      await weft.dispose();
    }
  });
});

describe('model.evaluate with a router instance another run is using', () => {
  it('refuses it and disposes of the store it made for the run', async () => {
    const counts = { created: 0, disposed: 0 };
    const counting = definePlugin({
      name: 'counting-store',
      version: '1.0.0',
      apiVersion: '^0.1.0',
      setup: (ctx) =>
        ctx.register('kv-cache', {
          name: 'counting',
          create: () => {
            counts.created++;
            const store = new FullPrecisionKvStore();
            const dispose = store.dispose.bind(store);
            store.dispose = () => {
              counts.disposed++;
              dispose();
            };
            return store;
          },
        }),
    });
    const weft = runtime([counting]);
    try {
      const model = await weft.load(fixture('tiny'));
      const router: AttentionRouter = { specificationVersion: 'v1', name: 'busy', select: () => undefined };
      const inputIds = model.tokenizer.encode('Once upon a time, there was a little girl named Lily.');
      const first = model.evaluate({ inputIds, router }); // claims the router until it ends
      const second = await model.evaluate({ inputIds, kv: 'counting', router }).catch((e: unknown) => e);
      expect(InvalidOptionsError.isInstance(second)).toBe(true);
      expect((second as Error).message).toMatch(/attention router instance is already in use by another run/);
      // Before: the store made for the refused run was never disposed.
      expect(counts).toEqual({ created: 1, disposed: 1 });
      await first;
      // The router is free again once the first run ended.
      expect((await model.evaluate({ inputIds, kv: 'counting', router })).tokens).toBe(inputIds.length - 1);
      expect(counts).toEqual({ created: 2, disposed: 2 });
    } finally {
      await weft.dispose();
    }
  });
});
