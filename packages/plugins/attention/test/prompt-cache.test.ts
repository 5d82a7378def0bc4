import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionsError, type GenerationEvent, type GenerationRequest, type WeftModel } from '@weft/core';
import { kvCompressors } from '@weft/plugin-kv';
import { attentionRouters, sinkWindow } from '../src/index.js';
import { ATTENTIONS_GRAPH, collect, done, runtime, storyModel } from './helpers.js';

/** Core's prompt cache with this package's routers, on models/story. */
describe('prompt cache with attention routers', () => {
  // sink-window (4 sinks + 24) as the runtime's default, as `sinkWindow()` sets it up, and the other routers by name.
  const weft = runtime([sinkWindow({ sinks: 4, window: 24 }), kvCompressors()]);
  let model: WeftModel;
  beforeAll(async () => {
    model = await weft.load(storyModel);
  });
  afterAll(() => weft.dispose());

  const run = async (request: GenerationRequest, on: WeftModel = model) => {
    const events: GenerationEvent[] = await collect(on.generate({ temperature: 0, ignoreEos: true, ...request }));
    const start = events[0] as Extract<GenerationEvent, { type: 'start' }>;
    return { ids: done(events).rows[0]!.ids, cachedTokens: start.cachedTokens, router: start.router, kvBytes: done(events).kvBytes };
  };
  const prompt = 'Once upon a time, there was a little fox named Tom. He liked to run in the green grass with his friends.';

  it.each(['fp32', 'int4'])('the default sink-window resumes a cache it evicted from (%s): a continuation equals one uninterrupted generation', async (kv) => {
    const ids = model.tokenizer.encode(prompt);
    expect(ids.length).toBeGreaterThan(28); // past the 28 slots sink-window keeps
    // One generation of 30 tokens, and the same in two requests of 12 and 18 through a cache.
    const whole = await run({ inputIds: ids, maxTokens: 30, kv });
    const cache = model.createPromptCache();
    const first = await run({ inputIds: ids, maxTokens: 12, kv, promptCache: cache });
    expect(first.router).toBe('sink-window');
    expect(first.ids).toEqual(whole.ids.slice(0, 12));
    // It holds every fed id, though the store keeps only 28 of their positions.
    expect(cache.ids).toEqual([...ids, ...first.ids.slice(0, -1)]);
    const second = await run({ inputIds: [...ids, ...first.ids], maxTokens: 18, kv, promptCache: cache });
    expect(second.cachedTokens).toBe(ids.length + 11);
    expect(second.ids).toEqual(whole.ids.slice(12));
    expect(second.kvBytes).toBe(whole.kvBytes);
    cache.dispose();
  });

  it('a cache a router evicted from serves extensions only: a prompt that parts from it starts over', async () => {
    const cache = model.createPromptCache();
    const ids = model.tokenizer.encode(prompt);
    await run({ inputIds: ids, maxTokens: 4, promptCache: cache });
    const parted = await run({ inputIds: [...ids.slice(0, 20), 5, 6], maxTokens: 4, promptCache: cache });
    expect(parted.cachedTokens).toBe(0);
    expect(parted.ids).toEqual((await run({ inputIds: [...ids.slice(0, 20), 5, 6], maxTokens: 4 })).ids);
    cache.dispose();
  });

  it('a cache a router evicted from is extended only under that router: another router or other options start over', async () => {
    const ids = model.tokenizer.encode(prompt);
    for (const next of [{ router: 'full' }, { router: { name: 'sink-window', options: { sinks: 4, window: 16 } } }, { router: 'window' }] as const) {
      const cache = model.createPromptCache();
      await run({ inputIds: ids, maxTokens: 4, promptCache: cache });
      const extended = [...cache.ids, 7, 8];
      const warm = await run({ inputIds: extended, maxTokens: 6, ...next, promptCache: cache });
      expect(warm.cachedTokens).toBe(0);
      expect(warm.ids).toEqual((await run({ inputIds: extended, maxTokens: 6, ...next })).ids);
      // The same router as the run that filled it (the runtime's default) extends it.
      await run({ inputIds: ids, maxTokens: 4, promptCache: cache });
      expect((await run({ inputIds: [...cache.ids, 7], maxTokens: 2, promptCache: cache })).cachedTokens).toBeGreaterThan(ids.length);
      cache.dispose();
    }
  });

  it('before anything is evicted the cache is cut back as without a router, with the same tokens as a run without the cache', async () => {
    const cache = model.createPromptCache();
    const short = 'The cat sat.';
    await run({ prompt: short, maxTokens: 3, promptCache: cache });
    const again = await run({ prompt: 'The cat ran.', maxTokens: 3, promptCache: cache });
    expect(again.cachedTokens).toBeGreaterThan(1);
    expect(again.ids).toEqual((await run({ prompt: 'The cat ran.', maxTokens: 3 })).ids);
    cache.dispose();
  });

  it("full, window and strided resume a cache; 'full' gives the tokens of a run without the cache", async () => {
    const cache = model.createPromptCache();
    await run({ prompt, maxTokens: 6, router: 'full', promptCache: cache });
    const next = [...cache.ids, 9];
    const warm = await run({ inputIds: next, maxTokens: 6, router: 'full', promptCache: cache });
    expect(warm.cachedTokens).toBe(next.length - 1);
    expect(warm.ids).toEqual((await run({ inputIds: next, maxTokens: 6, router: 'full' })).ids);
    for (const router of ['window', 'strided'] as const) {
      const own = model.createPromptCache();
      await run({ prompt, maxTokens: 4, router, promptCache: own });
      const held = own.ids;
      expect((await run({ inputIds: [...held, 9], maxTokens: 2, router, promptCache: own })).cachedTokens).toBe(held.length);
      own.dispose();
    }
    cache.dispose();
  });

  it("refuses routers that keep state between steps, and positions: 'cache', naming the router", async () => {
    const withAttentions = runtime([attentionRouters(), kvCompressors()]);
    const scored = await withAttentions.load(storyModel, { onnxFile: ATTENTIONS_GRAPH });
    const cache = scored.createPromptCache();
    const refused = async (request: GenerationRequest) => {
      const error = await run({ prompt: 'Hello', maxTokens: 2, promptCache: cache, ...request }, scored).catch((e: unknown) => e);
      expect(InvalidOptionsError.isInstance(error)).toBe(true);
      expect((error as InvalidOptionsError).option).toBe('promptCache');
      return (error as Error).message;
    };
    expect(await refused({ router: 'heavy-hitter' })).toMatch(/router "heavy-hitter": it keeps state between steps.*sink-window/);
    expect(await refused({ router: { name: 'sink-window', options: { positions: 'cache' } } })).toMatch(/router "sink-window": it counts positions within the cache/);
    // A router that resumes is accepted on the same cache after those refusals.
    expect((await run({ prompt: 'Hello', maxTokens: 2, router: 'window', promptCache: cache }, scored)).cachedTokens).toBe(0);
    await withAttentions.dispose();
  });
});
