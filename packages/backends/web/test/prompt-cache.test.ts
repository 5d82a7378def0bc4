import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWeft, type GenerationEvent, type GenerationRequest, type Weft, type WeftModel } from '@weft/core';
import { webBackend } from '../src/index.js';
import { collect, done, storyModel } from './helpers.js';

/** Core's prompt cache on onnxruntime-web (wasm, in Node): its tensors are cut back and fed again like onnxruntime-node's. */
describe('prompt cache on the web backend', () => {
  let weft: Weft;
  let model: WeftModel;
  beforeAll(async () => {
    weft = createWeft({ plugins: [webBackend({ numThreads: 1 })] });
    model = await weft.load(storyModel, { backend: 'web' });
  });
  afterAll(() => weft?.dispose());

  const run = async (request: GenerationRequest) => {
    const events: GenerationEvent[] = await collect(model.generate({ maxTokens: 10, ...request }));
    const start = events[0] as Extract<GenerationEvent, { type: 'start' }>;
    return { ids: done(events).rows[0]!.ids, cachedTokens: start.cachedTokens, prompt: start.promptIds[0]! };
  };

  it('reuses a cut-back cache and gives the tokens of a run without it', async () => {
    const cache = model.createPromptCache();
    const first = await run({ prompt: 'Once upon a time, there was a little fox named Tom.', promptCache: cache });
    const other = 'Once upon a time, there was a big dog.';
    const warm = await run({ prompt: other, promptCache: cache });
    expect(warm.cachedTokens).toBeGreaterThan(1);
    expect(warm.cachedTokens).toBeLessThan(first.prompt.length);
    expect(warm.ids).toEqual((await run({ prompt: other })).ids);
    // An extension of everything it holds feeds only the new ids.
    const held = cache.ids;
    const extended = await run({ inputIds: [...held, 9], promptCache: cache });
    expect(extended.cachedTokens).toBe(held.length);
    expect(extended.ids).toEqual((await run({ inputIds: [...held, 9] })).ids);
    cache.dispose();
  });
});
