import { afterAll, describe, expect, it } from 'vitest';
import { collect, done, hasStories260k, runtime, stories260k } from './helpers.js';

// A real pretrained Llama made by others (grouped-query attention, sentencepiece-style tokenizer
// with byte fallback, eos_token_id given as a list), run unmodified from ../shared.
describe.skipIf(!hasStories260k)('third-party model: stories260k', () => {
  const weft = runtime();
  afterAll(() => weft.dispose());

  it('reads its layout and EOS list from the folder', async () => {
    const model = await weft.load(stories260k);
    expect(model.layout).toMatchObject({ numLayers: 5, numKvHeads: 4, headDim: 8, hasPast: true, hasPositionIds: true });
    expect(model.generationConfig.eosTokenIds).toEqual([2, 1]);
    expect(model.tokenizer.encode('Once upon a time')[0]).toBe(1); // the tokenizer adds BOS
    await model.dispose();
  });

  it('continues a story fluently, and a padded batch matches each prompt alone', async () => {
    const model = await weft.load(stories260k);
    const prompts = ['Once upon a time', 'Lily and Tom went to the park. They'];
    const batch = done(await collect(model.generate({ prompt: prompts, maxTokens: 30 }))).rows;
    expect(batch[0]!.text).toMatch(/^, there was a little/);
    for (const [i, prompt] of prompts.entries()) {
      const alone = done(await collect(model.generate({ prompt, maxTokens: 30 }))).rows[0]!;
      expect(alone.ids).toEqual(batch[i]!.ids);
    }
    await model.dispose();
  });

  it('ends on eos and measures a low perplexity on its own kind of text', async () => {
    const model = await weft.load(stories260k);
    const last = done(await collect(model.generate({ prompt: 'Once upon a time', maxTokens: 400 })));
    expect(last.finishReason).toBe('eos');
    const { perplexity } = await model.evaluate({ inputIds: model.tokenizer.encode('Once upon a time, there was a little girl named Lily. She loved to play outside.') });
    expect(perplexity).toBeGreaterThan(1);
    expect(perplexity).toBeLessThan(5);
    await model.dispose();
  });
});
