import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWeft, InvalidOptionsError, toAsyncIterable, type GenerationRequest, type WeftModel } from '@weft/core';
import { nodeBackend } from '@weft/backend-node';
import { noRepeatNgram } from '../src/index.js';
import { repeatedNgrams } from './ngrams.js';

const storyModel = fileURLToPath(new URL('../../../models/story', import.meta.url));
// The tiny story model loops within 100 tokens of this prompt ("One morning, the wind was blowing. Theo went outside …").
const PROMPT = 'Once upon a time';
const MAX_TOKENS = 120;

interface Run {
  readonly prompts: readonly (readonly number[])[];
  readonly rows: readonly (readonly number[])[];
}

/** Runs `request` greedily and returns every row's prompt ids and generated ids. */
async function run(model: WeftModel, request: GenerationRequest): Promise<Run> {
  let prompts: readonly (readonly number[])[] = [];
  let rows: readonly (readonly number[])[] = [];
  for await (const event of toAsyncIterable(model.generate({ temperature: 0, ...request }))) {
    if (event.type === 'start') prompts = event.promptIds;
    else if (event.type === 'done') rows = event.rows.map((r) => r.ids);
  }
  return { prompts, rows };
}

const noRepeat = (options?: Record<string, unknown>) => ({ name: 'no-repeat-ngram', ...(options === undefined ? {} : { options }) });

describe('no-repeat-ngram on models/story, greedy', () => {
  const weft = createWeft({ plugins: [nodeBackend(), noRepeatNgram()] });
  let model: WeftModel;
  let plain: Run;
  beforeAll(async () => {
    model = await weft.load(storyModel);
    plain = await run(model, { prompt: PROMPT, maxTokens: MAX_TOKENS });
  });
  afterAll(() => weft.dispose());

  it('without the processor the model repeats 2-, 3- and 4-grams of its prompt and output', () => {
    const history = [...plain.prompts[0]!, ...plain.rows[0]!];
    expect(plain.rows[0]!.length).toBe(MAX_TOKENS);
    for (const size of [2, 3, 4]) expect(repeatedNgrams(history, size).length, `size ${size}`).toBeGreaterThan(0);
  });

  it.each([1, 2, 3, 4])('with size %i no n-gram of that size repeats in prompt + output, and the output differs', async (size) => {
    const withProcessor = await run(model, { prompt: PROMPT, maxTokens: MAX_TOKENS, processors: [noRepeat({ size })] });
    const ids = withProcessor.rows[0]!;
    expect(withProcessor.prompts).toEqual(plain.prompts);
    expect(repeatedNgrams([...withProcessor.prompts[0]!, ...ids], size)).toEqual([]); // the prompt has no repeat of its own
    expect(ids).not.toEqual(plain.rows[0]);
    // Greedy decoding follows the model until the first repeat: the outputs agree up to there.
    const history = [...plain.prompts[0]!, ...plain.rows[0]!];
    const firstRepeatEnd = repeatedNgrams(history, size)[0]!.end - plain.prompts[0]!.length;
    expect(ids.slice(0, firstRepeatEnd)).toEqual(plain.rows[0]!.slice(0, firstRepeatEnd));
    expect(ids[firstRepeatEnd]).not.toBe(plain.rows[0]![firstRepeatEnd]);
  });

  it('the default size is 3, and scope "generated" lets the output repeat the prompt but not itself', async () => {
    const three = await run(model, { prompt: PROMPT, maxTokens: MAX_TOKENS, processors: [noRepeat({ size: 3 })] });
    expect((await run(model, { prompt: PROMPT, maxTokens: MAX_TOKENS, processors: ['no-repeat-ngram'] })).rows).toEqual(three.rows);
    // With scope all the output may not write "named Theo" again (the model then calls the cat
    // "a cat named Fern"); with scope generated it may, and does.
    const prompt = 'Once upon a time, there was a little cat named Theo.';
    const all = await run(model, { prompt, maxTokens: MAX_TOKENS, processors: [noRepeat({ size: 3 })] });
    const generated = await run(model, { prompt, maxTokens: MAX_TOKENS, processors: [noRepeat({ size: 3, scope: 'generated' })] });
    const promptLength = all.prompts[0]!.length;
    expect(repeatedNgrams([...all.prompts[0]!, ...all.rows[0]!], 3, promptLength)).toEqual([]);
    expect(repeatedNgrams(generated.rows[0]!, 3)).toEqual([]);
    const quoted = repeatedNgrams([...generated.prompts[0]!, ...generated.rows[0]!], 3, promptLength);
    expect(quoted.length).toBeGreaterThan(0);
    expect(generated.rows).not.toEqual(all.rows);
  });

  it('rows of a batch keep their own n-grams: each row generates what it generates alone', async () => {
    const prompts = [PROMPT, 'Tom had a ball.', 'The cat'];
    const batch = await run(model, { prompt: prompts, maxTokens: 80, processors: [noRepeat({ size: 2 })] });
    expect(batch.rows).toHaveLength(prompts.length);
    for (const [r, prompt] of prompts.entries()) {
      const alone = await run(model, { prompt, maxTokens: 80, processors: [noRepeat({ size: 2 })] });
      expect(repeatedNgrams([...batch.prompts[r]!, ...batch.rows[r]!], 2), prompt).toEqual([]);
      expect(batch.rows[r], prompt).toEqual(alone.rows[0]);
    }
  });

  it('bad options fail the request with an InvalidOptionsError naming the option and the plugin, caused by the plugin\'s own', async () => {
    for (const [options, option] of [
      [{ size: 0 }, 'size'],
      [{ size: 'three' }, 'size'],
      [{ scope: 'prompt' }, 'scope'],
      [{ n: 3 }, 'n'],
    ] as const) {
      const error = await run(model, { prompt: PROMPT, maxTokens: 4, processors: [noRepeat(options)] }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(InvalidOptionsError.isInstance(error), JSON.stringify(options)).toBe(true);
      expect(error).toMatchObject({ option: `processors[0].${option}`, message: expect.stringMatching(/ \(weft-plugin-no-repeat\)$/) });
      const cause = (error as Error).cause;
      expect(InvalidOptionsError.isInstance(cause)).toBe(true);
      expect(cause).toMatchObject({ option, message: expect.stringContaining(`"${option}"`) });
    }
  });

  it("the plugin's options are the defaults of its processor; a request's options override them", async () => {
    const other = createWeft({ plugins: [nodeBackend(), noRepeatNgram({ size: 2 })] });
    try {
      const twoByDefault = await other.load(storyModel);
      const two = await run(model, { prompt: PROMPT, maxTokens: MAX_TOKENS, processors: [noRepeat({ size: 2 })] });
      const three = await run(model, { prompt: PROMPT, maxTokens: MAX_TOKENS, processors: [noRepeat({ size: 3 })] });
      expect(two.rows).not.toEqual(three.rows);
      expect((await run(twoByDefault, { prompt: PROMPT, maxTokens: MAX_TOKENS, processors: ['no-repeat-ngram'] })).rows).toEqual(two.rows);
      expect((await run(twoByDefault, { prompt: PROMPT, maxTokens: MAX_TOKENS, processors: [noRepeat({ size: 3 })] })).rows).toEqual(three.rows);
    } finally {
      await other.dispose();
    }
  });
});
