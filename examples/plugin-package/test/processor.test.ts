import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, type LogitsContext } from '@weft/core';
import plugin, { noRepeatNgram, NoRepeatNgramProcessor, noRepeatNgramProcessor, PLUGIN_NAME, VERSION } from '../src/index.js';

const ctx = (promptIds: readonly number[], generatedIds: readonly number[], row = 0): LogitsContext => ({ row, step: generatedIds.length, promptIds, generatedIds });
const bans = (processor: NoRepeatNgramProcessor, context: LogitsContext): number[] => [...processor.bannedIds(context)].sort((a, b) => a - b);

/** What Hugging Face's `no_repeat_ngram_size` bans next, from scratch: the reference the index is checked against. */
function reference(ids: readonly number[], n: number): number[] {
  const banned = new Set<number>();
  if (ids.length + 1 < n) return [];
  const prefix = ids.slice(ids.length - n + 1);
  for (let i = 0; i + n <= ids.length; i++) {
    if (ids.slice(i, i + n - 1).every((id, j) => id === prefix[j])) banned.add(ids[i + n - 1]!);
  }
  return [...banned].sort((a, b) => a - b);
}

describe('NoRepeatNgramProcessor: the ids it bans', () => {
  it('size 1 bans every id of the prompt and output', () => {
    const p = new NoRepeatNgramProcessor({ size: 1 });
    expect(bans(p, ctx([], []))).toEqual([]);
    expect(bans(p, ctx([5, 3], []))).toEqual([3, 5]);
    expect(bans(new NoRepeatNgramProcessor({ size: 1 }), ctx([5, 3], [9, 3]))).toEqual([3, 5, 9]);
  });

  it('size 2 bans what followed the last id before', () => {
    const p = new NoRepeatNgramProcessor({ size: 2 });
    // 7 was followed by 8 and by 9 (once in the prompt, once in the output); the row now ends in 7.
    expect(bans(p, ctx([7, 8, 1], [7, 9, 7]))).toEqual([8, 9]);
    // Ends in an id seen only at the end: nothing to ban.
    expect(bans(new NoRepeatNgramProcessor({ size: 2 }), ctx([1, 2], [3]))).toEqual([]);
    // One id only: there is no bigram yet.
    expect(bans(new NoRepeatNgramProcessor({ size: 2 }), ctx([4], []))).toEqual([]);
  });

  it('size 3 bans the third id of a trigram whose first two ids end the row', () => {
    const p = new NoRepeatNgramProcessor({ size: 3 });
    // "1 2 3" and "1 2 4" are in the history; it ends in "1 2".
    expect(bans(p, ctx([1, 2, 3, 1, 2, 4], [1, 2]))).toEqual([3, 4]);
    // "2 1" was never followed by anything: the last bigram must match, not only the last id.
    expect(bans(new NoRepeatNgramProcessor({ size: 3 }), ctx([1, 2, 3], [2, 1]))).toEqual([]);
    expect(bans(new NoRepeatNgramProcessor({ size: 3 }), ctx([1], [2]))).toEqual([]);
  });

  it("the prompt's n-grams count (scope all, the default), and only the output's with scope generated", () => {
    // The prompt holds "the cat sat"; the output just wrote "the cat".
    const prompt = [10, 11, 12];
    expect(bans(new NoRepeatNgramProcessor({ size: 3 }), ctx(prompt, [10, 11]))).toEqual([12]);
    expect(bans(new NoRepeatNgramProcessor({ size: 3, scope: 'generated' }), ctx(prompt, [10, 11]))).toEqual([]);
    // An n-gram that spans prompt and output counts with all, not with generated.
    expect(bans(new NoRepeatNgramProcessor({ size: 2 }), ctx([4], [5, 4]))).toEqual([5]);
    expect(bans(new NoRepeatNgramProcessor({ size: 2, scope: 'generated' }), ctx([4], [5, 4]))).toEqual([]);
    expect(bans(new NoRepeatNgramProcessor({ size: 2, scope: 'generated' }), ctx([4], [5, 6, 5]))).toEqual([6]);
  });

  it('rows of a batch are independent', () => {
    const p = new NoRepeatNgramProcessor({ size: 2 });
    const row0 = { prompt: [1, 2, 1], generated: [] as number[] };
    const row1 = { prompt: [1, 3, 1], generated: [] as number[] };
    expect(bans(p, ctx(row0.prompt, row0.generated, 0))).toEqual([2]);
    expect(bans(p, ctx(row1.prompt, row1.generated, 1))).toEqual([3]);
    row0.generated.push(5);
    row1.generated.push(6);
    expect(bans(p, ctx(row0.prompt, row0.generated, 0))).toEqual([]);
    expect(bans(p, ctx(row1.prompt, row1.generated, 1))).toEqual([]);
    row0.generated.push(1);
    row1.generated.push(1);
    // One index shared by the rows would ban [2, 3, 5, 6] in both.
    expect(bans(p, ctx(row0.prompt, row0.generated, 0))).toEqual([2, 5]);
    expect(bans(p, ctx(row1.prompt, row1.generated, 1))).toEqual([3, 6]);
  });

  it('grown a token at a time, as in a run, the index bans what a rescan of the whole history bans', () => {
    // A deterministic pseudo-random history over 6 ids: many repeats at every size.
    let seed = 42;
    const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % 6);
    for (const size of [1, 2, 3, 4]) {
      for (const scope of ['all', 'generated'] as const) {
        const p = new NoRepeatNgramProcessor({ size, scope });
        const prompt = Array.from({ length: 9 }, next);
        const generated: number[] = [];
        for (let step = 0; step < 60; step++) {
          expect(bans(p, ctx(prompt, generated)), `size ${size} ${scope} step ${step}`).toEqual(reference(scope === 'all' ? [...prompt, ...generated] : generated, size));
          generated.push(next());
        }
      }
    }
  });

  it('starts a row again for another prompt or a shorter history (an instance used twice)', () => {
    const p = new NoRepeatNgramProcessor({ size: 2 });
    expect(bans(p, ctx([1, 2, 1], []))).toEqual([2]);
    expect(bans(p, ctx([1, 3, 1], []))).toEqual([3]);
    const prompt = [1, 3, 1];
    expect(bans(p, ctx(prompt, [4, 1]))).toEqual([3, 4]);
    expect(bans(p, ctx(prompt, []))).toEqual([3]);
  });

  it('process sets the banned logits to -Infinity and leaves the others', () => {
    const logits = Float32Array.from([0.5, 1, 2, 3]);
    // Bans 2 (after "0 1") and an id past the vocabulary, which it skips.
    new NoRepeatNgramProcessor({ size: 3 }).process(logits, ctx([0, 1, 2, 0, 1, 9, 0], [1]));
    expect([...logits]).toEqual([0.5, 1, Number.NEGATIVE_INFINITY, 3]);
    expect(noRepeatNgramProcessor().size).toBe(3);
    expect(noRepeatNgramProcessor().scope).toBe('all');
  });
});

describe('options', () => {
  const rejects = (options: unknown, option: string, message: string) => {
    let error: unknown;
    try {
      new NoRepeatNgramProcessor(options as never);
    } catch (e) {
      error = e;
    }
    expect(InvalidOptionsError.isInstance(error), JSON.stringify(options)).toBe(true);
    expect(error).toMatchObject({ option, message: expect.stringContaining(message) });
  };

  it('size must be a whole number >= 1, scope "all" or "generated", and no other option is taken', () => {
    for (const size of [0, -1, 2.5, '3', Number.NaN, Number.POSITIVE_INFINITY, null, true]) {
      rejects({ size }, 'size', 'no-repeat-ngram: option "size" must be a whole number >= 1 (got ');
    }
    rejects({ size: 0 }, 'size', '(got 0)');
    rejects({ size: 'x' }, 'size', '(got "x")');
    rejects({ scope: 'prompt' }, 'scope', 'no-repeat-ngram: option "scope" must be "all" or "generated" (got "prompt")');
    rejects({ sise: 3 }, 'sise', 'no-repeat-ngram: unknown option "sise" (it takes size and scope)');
    rejects(3, 'options', 'options must be an object');
    expect(new NoRepeatNgramProcessor({ size: 5, scope: 'generated' })).toMatchObject({ size: 5, scope: 'generated' });
  });

  it("the plugin's defaults are checked when it is made", () => {
    expect(() => noRepeatNgram({ size: 0 })).toThrow(InvalidOptionsError);
    expect(() => noRepeatNgram({ size: 0 })).toThrow('no-repeat-ngram: option "size" must be a whole number >= 1 (got 0).');
    expect(() => noRepeatNgram({ scope: 'x' as never })).toThrow('option "scope" must be "all" or "generated" (got "x")');
  });

  it("a request's option left undefined keeps the plugin's default, not the processor's own", () => {
    let create: ((options: unknown) => unknown) | undefined;
    void noRepeatNgram({ size: 2, scope: 'generated' }).setup({ register: (_kind: string, entry: { create: (options: unknown) => unknown }) => void (create = entry.create) } as never);
    expect(create!({ size: undefined })).toMatchObject({ size: 2, scope: 'generated' });
    expect(create!({ scope: undefined, size: 4 })).toMatchObject({ size: 4, scope: 'generated' });
    expect(create!(undefined)).toMatchObject({ size: 2, scope: 'generated' });
    expect(() => create!({ size: 0 })).toThrow(InvalidOptionsError);
  });
});

describe('the package', () => {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as Record<string, unknown>;

  it('exports the plugin factory as its default export, with the name and version of its package.json', () => {
    expect(plugin).toBe(noRepeatNgram);
    const made = noRepeatNgram();
    expect(made).toMatchObject({ name: PLUGIN_NAME, version: VERSION, apiVersion: '^0.1.0' });
    expect(manifest).toMatchObject({ name: PLUGIN_NAME, version: VERSION });
  });
});
