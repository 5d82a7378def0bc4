import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ContextOverflowError, type Tokenizer } from '../src/index.js';
import { promptIds, tokensAtLeast } from '../src/generation/prompt-ids.js';
import { runtime, storyModel } from './helpers.js';

/** `tokenizer` with every `encode` call's text length recorded. */
function recording(tokenizer: Tokenizer) {
  const encoded: number[] = [];
  const wrapped = new Proxy(tokenizer, {
    get(target, key, receiver) {
      if (key === 'encode') return (text: string, options?: { addSpecialTokens?: boolean }) => (encoded.push(text.length), target.encode(text, options));
      const value: unknown = Reflect.get(target, key, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { tokenizer: wrapped, encoded };
}

/** A tokenizer of one token per 10 characters (id 1), to check the counting logic alone. */
const tenPerToken = { encode: (text: string) => new Array<number>(Math.ceil(text.length / 10)).fill(1) } as unknown as Tokenizer;

describe('prompts far longer than the context', () => {
  const weft = runtime();
  afterAll(() => weft.dispose());
  const story = readFileSync(join(storyModel, 'data', 'long.txt'), 'utf8');

  it('say a prompt exactly as long as the context leaves no position for a new token', async () => {
    const model = await weft.load(storyModel);
    const exact = await model.text({ inputIds: new Array<number>(1024).fill(40) }).catch((e: unknown) => e);
    expect(ContextOverflowError.isInstance(exact)).toBe(true);
    expect((exact as Error).message).toBe("The prompt has 1024 tokens but the model's context is 1024, which leaves no position for a new token (at most 1023 prompt tokens); shorten the prompt.");
    const over = await model.text({ inputIds: [new Array<number>(3).fill(40), new Array<number>(1100).fill(40)] }).catch((e: unknown) => e);
    expect((over as Error).message).toBe("The prompt has 1100 tokens but the model's context is 1024 (at most 1023 prompt tokens); shorten the prompt.");
  });

  it('are refused after encoding a chunk, not the whole prompt (a 50 MB prompt took over a minute)', async () => {
    const model = await weft.load(storyModel);
    const huge = story.repeat(Math.ceil(4_000_000 / story.length));
    const { tokenizer, encoded } = recording(model.tokenizer);
    let error: unknown;
    try {
      promptIds({ prompt: huge }, tokenizer, model.config.vocabSize, model.config.maxPositions);
    } catch (e) {
      error = e;
    }
    expect(ContextOverflowError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(new RegExp(`^The prompt has at least \\d+ tokens \\(${huge.length} characters\\) but the model's context is 1024; shorten the prompt\\.$`));
    expect(encoded.reduce((a, b) => a + b, 0)).toBeLessThan(70_000);
    // Through generate, as the same typed error.
    await expect(model.text({ prompt: huge })).rejects.toThrow(/at least \d+ tokens/);
  });

  it('count chunks as at most what the whole prompt encodes to, and encode a prompt that may fit whole', () => {
    // 9,000 characters for a context of 1,000: counted (> 8 per position), 900 tokens less the slack, fits.
    expect(promptIds({ prompt: 'x'.repeat(9_000) }, tenPerToken, 2, 1_000)[0]).toHaveLength(900);
    // 200,000 characters, 20,000 tokens: refused once the chunks' counts reach the context.
    expect(() => promptIds({ prompt: 'x'.repeat(200_000) }, tenPerToken, 2, 1_000)).toThrow(ContextOverflowError);
  });

  it('counts chunks at or under what the whole text encodes to, for prose, text without spaces, space runs and split surrogate pairs', async () => {
    const model = await weft.load(storyModel);
    const t = model.tokenizer;
    const texts = [
      story.slice(0, 400_000),
      '猫が好きです。'.repeat(30_000), // no spaces: chunks cut mid-text
      `${'word '.repeat(20_000)}${' '.repeat(70_000)}${'end '.repeat(20_000)}`,
      '🦊'.repeat(70_000), // a chunk edge splits a surrogate pair
    ];
    for (const text of texts) {
      const whole = t.encode(text, { addSpecialTokens: false }).length;
      const counted = tokensAtLeast(text, t);
      expect(counted, text.slice(0, 20)).toBeLessThanOrEqual(whole);
      // and not uselessly low: within the slack of 8 per chunk
      expect(counted, text.slice(0, 20)).toBeGreaterThan(whole - 8 * Math.ceil(text.length / 65_536) - 8 * 4);
    }
  });
});
