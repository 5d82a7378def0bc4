import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definePlugin, FullPrecisionKvStore, InvalidOptionsError, PluginError, type AttentionRouter, type KvCacheInit } from '../src/index.js';
import { collect, fixture, runtime } from './helpers.js';

/** A full-precision store that counts `begin` and `dispose` calls. */
class CountingStore extends FullPrecisionKvStore {
  begun = 0;
  disposed = 0;
  override begin(init: KvCacheInit): void {
    this.begun++;
    super.begin(init);
  }
  override dispose(): void {
    this.disposed++;
    super.dispose();
  }
}

/** A router that keeps everything but asks for cache positions (keys re-rotated each step). */
const cachePositions: AttentionRouter = { specificationVersion: 'v1', name: 'cache-positions', positions: 'cache', select: () => undefined };

/** Entries whose factories return something that is not an instance of their kind. */
const malformedFactories = definePlugin({
  name: 'malformed-factories',
  version: '1.0.0',
  apiVersion: '^0.1.0',
  setup(ctx) {
    ctx.register('kv-cache', { name: 'empty-object', create: () => ({}) as never });
    // Something else than a processor: the error says what came back and what is missing.
    ctx.register('logits-processor', { name: 'wrong-shape', create: () => ({ name: 'wrong-shape', apply: () => {}, weight: 2 }) as never });
    // An async factory whose promise rejects: the rejection must not go unhandled.
    ctx.register('logits-processor', { name: 'async', create: (async () => { throw new Error('late'); }) as never });
  },
});

describe('run setup', () => {
  const weft = runtime([malformedFactories]);
  let unsupportedRope: string;
  beforeAll(async () => {
    // The tiny model with a rope scaling Weft cannot re-rotate keys for.
    unsupportedRope = await mkdtemp(join(tmpdir(), 'weft-rope-'));
    await cp(fixture('tiny'), unsupportedRope, { recursive: true });
    const config = JSON.parse(await readFile(join(unsupportedRope, 'config.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(unsupportedRope, 'config.json'), JSON.stringify({ ...config, rope_scaling: { rope_type: 'llama3', factor: 8 } }));
  });
  afterAll(async () => {
    await weft.dispose();
    await rm(unsupportedRope, { recursive: true, force: true });
  });

  it('disposes the store of a run whose router this model cannot serve, and frees its instance', async () => {
    const model = await weft.load(unsupportedRope);
    const kv = new CountingStore();
    const error = await collect(model.generate({ prompt: 'a', maxTokens: 3, kv, router: cachePositions })).catch((e: unknown) => e);
    expect(InvalidOptionsError.isInstance(error)).toBe(true);
    expect((error as InvalidOptionsError).message).toMatch(/positions=cache .*llama3/);
    const evaluated = await model.evaluate({ inputIds: [1, 5, 6, 7], kv, router: cachePositions }).catch((e: unknown) => e);
    expect(InvalidOptionsError.isInstance(evaluated)).toBe(true);
    // Nothing begun is left undisposed, and the instance serves a later run.
    expect(kv.disposed).toBeGreaterThanOrEqual(kv.begun);
    expect(kv.disposed).toBeGreaterThanOrEqual(2);
    const result = await model.evaluate({ inputIds: [1, 5, 6, 7], kv });
    expect(Number.isFinite(result.perplexity)).toBe(true);
  });

  it('fails an evaluation on a store instance a generation is still using', async () => {
    const model = await weft.load(fixture('tiny'));
    const kv = new FullPrecisionKvStore();
    const inputIds = model.tokenizer.encode('the cat sat on the mat');
    const expected = await model.evaluate({ inputIds });
    let evaluation: Promise<unknown> | undefined;
    await new Promise<void>((resolve, reject) => {
      model.generate({ prompt: 'a', maxTokens: 6, kv }).subscribe({
        next: (event) => {
          if (event.type === 'token' && evaluation === undefined) evaluation = model.evaluate({ inputIds, kv }).catch((e: unknown) => e);
        },
        error: reject,
        complete: resolve,
      });
    });
    const error = await evaluation;
    expect(InvalidOptionsError.isInstance(error)).toBe(true);
    expect((error as InvalidOptionsError).option).toBe('kv');
    // Free again once the generation ended.
    expect((await model.evaluate({ inputIds, kv })).perplexity).toBeCloseTo(expected.perplexity, 6);
  });

  it('fails a request whose named entry creates something that is not of its kind with a PluginError saying what came back and what is needed', async () => {
    const model = await weft.load(fixture('tiny'));
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      for (const [request, stage, pattern] of [
        [{ kv: 'empty-object' }, 'kv-cache "empty-object" create', /did not create a valid kv-cache: it returned an empty object, and a kv-cache needs begin\(\), materialize\(\), append\(\)/],
        [{ processors: ['async'] }, 'logits-processor "async" create', /it returned a promise \(create must return the component itself, synchronously\), and a logits-processor needs a process\(\) method/],
        [{ processors: ['wrong-shape'] }, 'logits-processor "wrong-shape" create', /it returned an object with name, apply\(\), weight, and a logits-processor needs a process\(\) method/],
      ] as const) {
        const error = await collect(model.generate({ prompt: 'a', maxTokens: 2, ...request })).catch((e: unknown) => e);
        expect(PluginError.isInstance(error)).toBe(true);
        expect(error).toMatchObject({ plugin: 'malformed-factories', stage });
        expect((error as Error).message).toMatch(pattern);
      }
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
      // The runtime still serves requests.
      expect((await collect(model.generate({ prompt: 'a', maxTokens: 2 }))).at(-1)?.type).toBe('done');
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
