/**
 * generation_config.json's length and ban keys, as transformers applies them: max_new_tokens,
 * max_length, min_new_tokens, min_length (and the request's minTokens), suppress_tokens,
 * begin_suppress_tokens and bad_words_ids, on copies of the tiny model whose generation_config.json
 * sets them. Each expectation is taken against the same model's plain greedy output, so a key that
 * were ignored (or applied at the wrong step or row) would leave the output unchanged.
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionsError, ModelLoadError, type GenerationRequest, type TokenEvent, type WeftModel } from '../src/index.js';
import { logSumExp } from '../src/generation/sampling/softmax.js';
import { collect, done, fixture, runtime, storyModel } from './helpers.js';

const weft = runtime();
let scratch: string;
const loaded = new Map<string, Promise<WeftModel>>();

/** `base` (the tiny model unless given) with `generationConfig` as its generation_config.json. */
function withConfig(generationConfig: Record<string, unknown>, base = fixture('tiny')): Promise<WeftModel> {
  const key = `${base}\n${JSON.stringify(generationConfig)}`;
  let model = loaded.get(key);
  if (!model) {
    const dir = join(scratch, String(loaded.size));
    model = (async () => {
      await cp(base, dir, { recursive: true, filter: (path) => !path.includes('/data') });
      await writeFile(join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: 1, eos_token_id: 2, pad_token_id: 0, ...generationConfig }));
      return weft.load(dir);
    })();
    loaded.set(key, model);
  }
  return model;
}

const run = async (model: WeftModel, request: GenerationRequest) => done(await collect(model.generate(request)));
/** Row 0's ids, and how it ended. */
const ids = async (model: WeftModel, request: GenerationRequest) => {
  const { ids, finishReason } = (await run(model, request)).rows[0]!;
  return { ids: [...ids], finishReason };
};
/** Whether `b` follows `a` anywhere in `list`. */
const hasPair = (list: readonly number[], a: number, b: number) => list.some((id, i) => i > 0 && list[i - 1] === a && id === b);

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'weft-gencfg-'));
});
afterAll(async () => {
  await weft.dispose();
  await rm(scratch, { recursive: true, force: true });
});

/** Plain greedy ids of `prompt` on the tiny model without any of the keys (EOS ignored, so the length is exact). */
const plainGreedy = async (prompt: string | string[], maxTokens = 24) => {
  const plain = await withConfig({});
  return (await run(plain, { prompt, maxTokens, ignoreEos: true })).rows.map((r) => [...r.ids]);
};

describe('max_new_tokens and max_length', () => {
  it('max_new_tokens is the default maxTokens; an explicit maxTokens wins, shorter or longer', async () => {
    const plain = await ids(await withConfig({}), { prompt: 'Hello', ignoreEos: true });
    expect(plain.ids.length).toBeGreaterThan(7); // 256, capped by the context
    const model = await withConfig({ max_new_tokens: 7 });
    expect(await ids(model, { prompt: 'Hello', ignoreEos: true })).toEqual({ ids: plain.ids.slice(0, 7), finishReason: 'length' });
    expect((await ids(model, { prompt: 'Hello', ignoreEos: true, maxTokens: 3 })).ids).toHaveLength(3);
    expect((await ids(model, { prompt: 'Hello', ignoreEos: true, maxTokens: 12 })).ids).toHaveLength(12);
  });

  it('max_length bounds prompt + new tokens of a request without maxTokens (the batch counts its longest prompt)', async () => {
    const model = await withConfig({ max_length: 10 });
    const one = await run(model, { prompt: 'Hello', ignoreEos: true });
    expect(one.rows[0]!.usage.totalTokens).toBe(10);
    expect(one.finishReason).toBe('length');
    const batch = await run(model, { prompt: ['Hello', 'Once upon a time'], ignoreEos: true });
    const longest = Math.max(...batch.rows.map((r) => r.usage.promptTokens));
    expect(longest).toBeGreaterThan(batch.rows[0]!.usage.promptTokens);
    expect(batch.rows.map((r) => r.ids.length)).toEqual([10 - longest, 10 - longest]);
    expect((await ids(model, { prompt: 'Hello', ignoreEos: true, maxTokens: 20 })).ids).toHaveLength(20);
  });

  it('max_new_tokens wins over max_length, as in transformers, even when it is longer', async () => {
    const model = await withConfig({ max_length: 10, max_new_tokens: 12 });
    expect((await ids(model, { prompt: 'Hello', ignoreEos: true })).ids).toHaveLength(12);
  });

  it('a max_length the prompt already reaches still gives one token (Weft\'s choice; transformers raises)', async () => {
    const model = await withConfig({ max_length: 2 });
    expect((await ids(model, { prompt: 'Once upon a time', ignoreEos: true })).ids).toHaveLength(1);
  });

  it('max_length never lengthens the default: models/story (max_length 1024, its context) still makes 256 tokens', async () => {
    const story = await weft.load(storyModel);
    expect(story.generationConfig.maxLength).toBe(1024);
    const result = await run(story, { prompt: 'Once upon a time', ignoreEos: true });
    expect(result.rows[0]!.ids).toHaveLength(256);
  });
});

describe('min_new_tokens, min_length and minTokens', () => {
  /** The tiny model's first greedy token after 'Hello', made an extra EOS id (listed second: every EOS id is banned). */
  let first: number;
  const eos = () => ({ eos_token_id: [2, first] });
  beforeAll(async () => {
    first = (await plainGreedy('Hello'))[0]![0]!;
  });

  it('without a minimum, the run ends at once on that EOS id', async () => {
    expect(await ids(await withConfig(eos()), { prompt: 'Hello', maxTokens: 10 })).toEqual({ ids: [], finishReason: 'eos' });
  });

  it('min_new_tokens holds every EOS id back for that many tokens', async () => {
    const { ids: got } = await ids(await withConfig({ ...eos(), min_new_tokens: 4 }), { prompt: 'Hello', maxTokens: 10 });
    expect(got.length).toBeGreaterThanOrEqual(4);
    expect(got.slice(0, 4)).not.toContain(first);
    expect(got.slice(0, 4)).not.toContain(2);
  });

  it('min_length counts the prompt; min_new_tokens wins over it', async () => {
    const plain = await run(await withConfig({}), { prompt: 'Hello', maxTokens: 1 });
    const promptTokens = plain.rows[0]!.usage.promptTokens;
    const got = await ids(await withConfig({ ...eos(), min_length: promptTokens + 3 }), { prompt: 'Hello', maxTokens: 10 });
    expect(got.ids.length).toBeGreaterThanOrEqual(3);
    expect(got.ids.slice(0, 3)).not.toContain(first);
    expect(await ids(await withConfig({ ...eos(), min_length: promptTokens + 3, min_new_tokens: 0 }), { prompt: 'Hello', maxTokens: 10 })).toEqual({ ids: [], finishReason: 'eos' });
  });

  it("the request's minTokens overrides the file's", async () => {
    const model = await withConfig({ ...eos(), min_new_tokens: 4 });
    expect(await ids(model, { prompt: 'Hello', maxTokens: 10, minTokens: 0 })).toEqual({ ids: [], finishReason: 'eos' });
    const two = await ids(await withConfig(eos()), { prompt: 'Hello', maxTokens: 10, minTokens: 2 });
    expect(two.ids.length).toBeGreaterThanOrEqual(2);
    expect(two.ids[0]).not.toBe(first);
    // maxTokens still ends the row.
    expect(await ids(model, { prompt: 'Hello', maxTokens: 2, minTokens: 5 })).toMatchObject({ finishReason: 'length' });
  });

  it('has no effect with ignoreEos (EOS is then an ordinary token)', async () => {
    const got = await ids(await withConfig({ ...eos(), min_new_tokens: 4 }), { prompt: 'Hello', maxTokens: 3, ignoreEos: true });
    expect(got.ids[0]).toBe(first);
  });

  it('holds each row of a batch to it, leaving a row that never picks the id unchanged', async () => {
    const prompts = ['Hello', 'Tom'];
    const free = await run(await withConfig(eos()), { prompt: prompts, maxTokens: 6 });
    const held = await run(await withConfig({ ...eos(), min_new_tokens: 3 }), { prompt: prompts, maxTokens: 6 });
    expect(free.rows[0]).toMatchObject({ ids: [], finishReason: 'eos' });
    expect(free.rows[1]!.ids).toHaveLength(6);
    expect(held.rows[0]!.ids.length).toBeGreaterThanOrEqual(3);
    expect(held.rows[1]!.ids).toEqual(free.rows[1]!.ids);
  });

  it.each([-1, 1.5, '2', Number.NaN, null])('refuses minTokens %s before the run starts', async (minTokens) => {
    const events: string[] = [];
    const error = await new Promise<unknown>((resolve) => {
      void withConfig({}).then((model) =>
        model.generate({ prompt: 'Hello', minTokens } as unknown as GenerationRequest).subscribe({ next: (e) => events.push(e.type), error: resolve, complete: () => resolve(undefined) }),
      );
    });
    expect(InvalidOptionsError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ option: 'minTokens' });
    expect((error as Error).message).toMatch(/^minTokens must be an integer >= 0 \(got /);
    expect(events).toEqual([]);
  });
});

describe('suppress_tokens, begin_suppress_tokens and bad_words_ids', () => {
  let greedy: number[];
  beforeAll(async () => {
    greedy = (await plainGreedy('Hello'))[0]!;
  });
  const banned = (config: Record<string, unknown>, request: Partial<GenerationRequest> = {}) =>
    withConfig(config).then((model) => ids(model, { prompt: 'Hello', maxTokens: 24, ignoreEos: true, ...request })).then((r) => r.ids);

  it('suppress_tokens: an id greedy would pick is never generated', async () => {
    const got = await banned({ suppress_tokens: [greedy[0]] });
    expect(got).not.toContain(greedy[0]);
    expect(got).not.toEqual(greedy);
    // The same ban when decoding works on a copy of the logits (sampling that keeps only the top token).
    expect(await banned({ suppress_tokens: [greedy[0]] }, { temperature: 1, topK: 1, seed: 1 })).toEqual(got);
    // A one-id bad_words_ids entry is the same ban.
    expect(await banned({ bad_words_ids: [[greedy[0]]] })).toEqual(got);
  });

  it('begin_suppress_tokens bans an id at the first step only', async () => {
    const later = greedy.find((id) => id !== greedy[0])!;
    expect((await banned({ begin_suppress_tokens: [greedy[0]] }))[0]).not.toBe(greedy[0]);
    // An id greedy picks later, but not first: unchanged, where suppress_tokens changes the output.
    expect(await banned({ begin_suppress_tokens: [later] })).toEqual(greedy);
    // Also beside a ban that lasts the whole run (an id greedy never picks).
    const unused = Array.from({ length: 1024 }, (_, id) => id).find((id) => id > 2 && !greedy.includes(id))!;
    expect(await banned({ begin_suppress_tokens: [later], suppress_tokens: [unused] })).toEqual(greedy);
    expect(await banned({ suppress_tokens: [later] })).not.toEqual(greedy);
  });

  it('bad_words_ids bans the last id of a sequence only right after the ids before it', async () => {
    const [a, b, c] = greedy;
    const pair = await banned({ bad_words_ids: [[a, b]] });
    expect(pair[0]).toBe(a);
    expect(pair[1]).not.toBe(b);
    expect(hasPair(pair, a!, b!)).toBe(false);
    const triple = await banned({ bad_words_ids: [[a, b, c]] });
    expect(triple.slice(0, 2)).toEqual([a, b]);
    expect(triple[2]).not.toBe(c);
    // The same last id after other ids: nothing banned.
    const other = greedy.find((id) => id !== a)!;
    expect(await banned({ bad_words_ids: [[other, b]] })).toEqual(greedy);
  });

  it('bad_words_ids matches ids before the banned one at the end of the prompt', async () => {
    const start = (await collect((await withConfig({})).generate({ prompt: 'Hello', maxTokens: 1 }))).find((e) => e.type === 'start')!;
    const last = start.promptIds[0]!.at(-1)!;
    expect((await banned({ bad_words_ids: [[last, greedy[0]]] }))[0]).not.toBe(greedy[0]);
  });

  it("bans each batch row by its own ids: a row without the sequence's start is unchanged", async () => {
    const prompts = ['Hello', 'Tom'];
    const [hello, tom] = await plainGreedy(prompts);
    const i = hello!.findIndex((id, k) => k > 0 && !hasPair(tom!, hello![k - 1]!, id));
    expect(i).toBeGreaterThan(0);
    const pair = [hello![i - 1]!, hello![i]!];
    const model = await withConfig({ bad_words_ids: [pair] });
    const rows = (await run(model, { prompt: prompts, maxTokens: 24, ignoreEos: true })).rows.map((r) => [...r.ids]);
    expect(rows[0]!.slice(0, i)).toEqual(hello!.slice(0, i));
    expect(rows[0]![i]).not.toBe(hello![i]);
    expect(rows[1]).toEqual(tom);
  });

  it('drops a bare EOS id from bad_words_ids, as transformers does', async () => {
    const model = await withConfig({ eos_token_id: [2, greedy[0]], bad_words_ids: [[greedy[0]]] });
    expect(await ids(model, { prompt: 'Hello', maxTokens: 5 })).toEqual({ ids: [], finishReason: 'eos' });
  });

  it('fails the run with an InvalidOptionsError when the bans leave no token', async () => {
    // Every id but the EOS suppressed (accepted at load: one token is left), and the EOS held back
    // by the request (with min_new_tokens in the file, the load refuses it: see the load checks).
    const model = await withConfig({ suppress_tokens: allBut(2) });
    const error = await collect(model.generate({ prompt: 'Hello', maxTokens: 3, minTokens: 1 })).catch((e: unknown) => e);
    expect(InvalidOptionsError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/^No token is left to pick for row 0 at step 0: .*generation_config\.json's suppress_tokens/);
    // No processor is at fault, so no request field is named (the CLI put --processor first).
    expect((error as InvalidOptionsError).option).toBeUndefined();
    // Without the minimum, the EOS is the one token left.
    expect(await ids(model, { prompt: 'Hello', maxTokens: 3, minTokens: 0 })).toEqual({ ids: [], finishReason: 'eos' });
  });

  it("keeps the model's logits intact: logprobs and analyzers see the banned token", async () => {
    const model = await withConfig({ suppress_tokens: [greedy[0]] });
    const raw: Float32Array[] = [];
    const events = await collect(model.generate({ prompt: 'Hello', maxTokens: 2, ignoreEos: true, analyzers: [{ name: 'raw', observe: (o) => void raw.push(o.logits[0]!.slice()) }] }));
    const token = events.find((e): e is TokenEvent => e.type === 'token')!;
    expect(raw[0]![greedy[0]!]).toBeGreaterThan(raw[0]![token.id]!);
    expect(token.logprob).toBeCloseTo(raw[0]![token.id]! - logSumExp(raw[0]!), 5);
  });
});

/** Every id of the tiny model's 1024 but `kept`. */
const allBut = (kept: number): number[] => Array.from({ length: 1024 }, (_, i) => i).filter((i) => i !== kept);

describe('checks at load', () => {
  const loadError = async (config: Record<string, unknown>) => {
    const error = await withConfig(config).catch((e: unknown) => e);
    expect(ModelLoadError.isInstance(error)).toBe(true);
    return (error as Error).message;
  };

  it.each([
    [{ max_new_tokens: 0 }, /generation_config\.json: max_new_tokens must be an integer >= 1 \(got 0\); fix or remove it\./],
    [{ max_length: 1.5 }, /generation_config\.json: max_length must be an integer >= 1 \(got 1\.5\)/],
    [{ min_new_tokens: -1 }, /generation_config\.json: min_new_tokens must be an integer >= 0 \(got -1\)/],
    [{ min_length: '3' }, /generation_config\.json: min_length must be an integer >= 0 \(got "3"\)/],
    [{ suppress_tokens: 5 }, /generation_config\.json: suppress_tokens must be a list of token ids \(got 5\)/],
    [{ suppress_tokens: [3, 1024] }, /generation_config\.json: suppress_tokens 1024 is not in the vocabulary of 1024 tokens/],
    [{ begin_suppress_tokens: [-1] }, /generation_config\.json: begin_suppress_tokens must be a token id in \[0, 1024\) \(got -1 in the list\)/],
    [{ bad_words_ids: [[5, 6], []] }, /generation_config\.json: bad_words_ids\[1\] must be a non-empty list of at most 256 token ids \(got a list of 0\)/],
    [{ bad_words_ids: [5] }, /generation_config\.json: bad_words_ids\[0\] must be a non-empty list/],
    [{ bad_words_ids: [[5, 2000]] }, /generation_config\.json: bad_words_ids\[0\] 2000 is not in the vocabulary of 1024 tokens/],
    [{ suppress_tokens: Array.from({ length: 65_537 }, () => 3) }, /generation_config\.json: suppress_tokens holds 65537 token ids; at most 65536 are allowed/],
    [{ bad_words_ids: [Array.from({ length: 257 }, () => 3)] }, /bad_words_ids\[0\] must be a non-empty list of at most 256 token ids \(got a list of 257\)/],
    [{ suppress_tokens: Array.from({ length: 1023 }, (_, i) => i + 1), bad_words_ids: [[0]] }, /suppress_tokens and bad_words_ids ban all 1024 tokens of the vocabulary/],
    // Only id 5 left, and begin_suppress_tokens takes it at the first step.
    [{ suppress_tokens: allBut(5), begin_suppress_tokens: [5] }, /suppress_tokens, bad_words_ids and begin_suppress_tokens ban all 1024 tokens at the first step/],
    // Only the EOS id (2) left, which min_new_tokens bans until then.
    [{ suppress_tokens: allBut(2), min_new_tokens: 3 }, /leave only end-of-sequence ids, which min_new_tokens 3 bans until then/],
    // Ids 2 (EOS) and 5 left: each pair of ban sets leaves one, the three at the first step none.
    [{ suppress_tokens: allBut(2).filter((i) => i !== 5), begin_suppress_tokens: [5], min_new_tokens: 1 }, /and the end-of-sequence ids min_new_tokens 1 bans ban all 1024 tokens at the first step/],
  ])('refuses a bad value (%#)', async (config, message) => {
    expect(await loadError(config)).toMatch(message);
  });

  it('reads the keys it accepts (null is absent, lists lose repeats)', async () => {
    const model = await withConfig({ max_new_tokens: 9, max_length: null, min_length: 4, suppress_tokens: [7, 7, 8], begin_suppress_tokens: [], bad_words_ids: [[3, 4]] });
    expect(model.generationConfig).toMatchObject({ maxNewTokens: 9, maxLength: undefined, minLength: 4, minNewTokens: undefined, suppressTokens: [7, 8], beginSuppressTokens: [], badWordsIds: [[3, 4]] });
  });
});
