import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GenerationEvent, GenerationRequest, NamedRef, WeftModel } from '@weft/core';
import { collect, done, runtime, storyModel } from './helpers.js';

/** Core's prompt cache with this package's stores, on models/story: what each store lets it reuse. */
describe('prompt cache with compressed stores', () => {
  const weft = runtime();
  let model: WeftModel;
  beforeAll(async () => {
    model = await weft.load(storyModel);
  });
  afterAll(() => weft.dispose());

  const run = async (request: GenerationRequest) => {
    const events: GenerationEvent[] = await collect(model.generate({ maxTokens: 8, temperature: 0, ...request }));
    const start = events[0] as Extract<GenerationEvent, { type: 'start' }>;
    return { ids: done(events).rows[0]!.ids, cachedTokens: start.cachedTokens, kv: start.kv };
  };
  const prompt = 'Once upon a time, there was a little fox named Tom. He liked to run in the green grass.';

  it.each<[string, NamedRef]>([
    ['int4', 'int4'],
    ['int8', 'int8'],
    ['fp16', 'fp16'],
  ])('%s: cut back to the shared prefix, and appended to on an extension', async (_, kv) => {
    const cache = model.createPromptCache();
    await run({ prompt, kv, promptCache: cache });
    const held = cache.ids;
    const shorter = await run({ inputIds: held.slice(0, 10).concat([5, 6]), kv, promptCache: cache });
    expect(shorter.cachedTokens).toBe(10);
    const extended = cache.ids.concat([7]);
    expect((await run({ inputIds: extended, kv, promptCache: cache })).cachedTokens).toBe(extended.length - 1);
    cache.dispose();
  });

  it('kivi: cut back while its positions are all in full precision, prefilled in full once some are quantised', async () => {
    const kv: NamedRef = { name: 'kivi', options: { group: 8, residual: 16 } };
    const cache = model.createPromptCache();
    // 9 positions fed (8 prompt ids and the first generated one): all still in the residual.
    const short = model.tokenizer.encode(prompt).slice(0, 8);
    await run({ inputIds: short, kv, maxTokens: 2, promptCache: cache });
    expect(cache.ids).toHaveLength(9);
    expect((await run({ inputIds: short.slice(0, 5).concat([9]), kv, maxTokens: 2, promptCache: cache })).cachedTokens).toBe(5);
    // A long prompt: past the residual, the store withdraws truncate, so a prompt parting from it starts over.
    await run({ prompt, kv, promptCache: cache });
    const held = cache.ids;
    expect(held.length).toBeGreaterThan(16);
    expect((await run({ inputIds: held.slice(0, 10).concat([5]), kv, promptCache: cache })).cachedTokens).toBe(0);
    // An extension is appended to whatever it holds.
    await run({ prompt, kv, promptCache: cache });
    const extended = cache.ids.concat([7]);
    expect((await run({ inputIds: extended, kv, promptCache: cache })).cachedTokens).toBe(extended.length - 1);
    cache.dispose();
  });
});
