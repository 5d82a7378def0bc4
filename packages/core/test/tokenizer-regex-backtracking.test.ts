/**
 * A tokenizer.json regex that nests repetitions (`(\w+\s?)+$`) backtracks for
 * an exponential time on a short text: built, the story model with such a Split step held the
 * process at full CPU for a prompt with a comma after a dozen words, past every abort signal,
 * timeout and Ctrl-C (encoding runs on the main thread). Such patterns are refused at load; the
 * patterns of real tokenizers still load.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelLoadError } from '../src/index.js';
import { checkTokenizerJson } from '../src/tokenizer/check-tokenizer-json.js';
import { regexShape } from '../src/tokenizer/regex-shape.js';
import { runtime, storyModel } from './helpers.js';

const json = JSON.parse(await readFile(join(storyModel, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
const PATH = '/models/story/tokenizer.json';
const split = (pattern: string) => ({ type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated', invert: false });

function check(changes: Record<string, unknown>): unknown {
  try {
    return checkTokenizerJson({ ...json, ...changes }, PATH);
  } catch (error) {
    return error;
  }
}

describe('regexShape', () => {
  it('finds nested repetitions, as written', () => {
    const nested: [string, string][] = [
      ['(\\w+\\s?)+$', '(\\w+\\s?)+'],
      ['(a*)*', '(a*)*'],
      ['x(?:y+){2,}', '(?:y+){2,}'],
      ['(a+){1,5}', '(a+){1,5}'],
      ['((ab)+c)*', '((ab)+c)*'],
      ['(?:(?:a|b+)c)+?', '(?:(?:a|b+)c)+?'],
      ['(?<w>\\p{L}+ )*\\.', '(?<w>\\p{L}+ )*'],
      // Bounded inner repetitions whose count varies, under an unbounded one.
      ['(?:a{1,3})+$', '(?:a{1,3})+'],
      ['(?:aa?)+$', '(?:aa?)+'],
      ['(?:a?a?)+b', '(?:a?a?)+'],
      // Oniguruma reads `X{n,m}+` as `(?:X{n,m})+`, not as a possessive quantifier.
      ['\\d{1,3}+$', '\\d{1,3}+'],
      ['(\\w+\\s?){1}+$', '(\\w+\\s?){1}+'],
    ];
    for (const [source, part] of nested) expect(regexShape(source)?.nestedRepetition, source).toBe(part);
  });

  it('finds none in flat patterns, fixed-count groups, possessive marks, or quantifiers inside classes, escapes and literal braces', () => {
    for (const source of ['a+b+', '(?:ab)+', '(a+)?', '(a+){1}', '[a+]+', '\\(a+\\)+', '\\Q(a+)+\\E', '(?:\\s+)', 'a{2,3}b*', '(?:\\d{3})+', 'a++', '(a+){,}', '\\p{N}{1,3}']) {
      expect(regexShape(source), source).toEqual(expect.objectContaining({ nestedRepetition: undefined }));
    }
  });

  it('finds none in the pre-tokenizer patterns of real tokenizers', () => {
    const real = [
      // GPT-2 / RoBERTa / Qwen-style
      "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
      // Llama 3 / cl100k-style
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
      // o200k-style, with an optional contraction group after the letters
      "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
      // digit and whitespace splits, T5's normalizer patterns
      '\\p{N}', '\\d{1,3}(?=(?:\\d{3})*\\b)', ' {2,}', '\\s+$', '[\\r\\n]+',
    ];
    for (const source of real) expect(regexShape(source)?.nestedRepetition, source).toBeUndefined();
  });
});

describe('tokenizer.json patterns that backtrack exponentially', () => {
  it('refuses a Split or Replace pattern with nested repetition, in any Sequence, naming it', () => {
    for (const [part, step] of [
      ['pre_tokenizer', { type: 'Sequence', pretokenizers: [split('(\\w+\\s?)+$'), json['pre_tokenizer']] }],
      ['normalizer', { type: 'Replace', pattern: { Regex: '(a|b+)*c' }, content: 'x' }],
      ['decoder', { type: 'Sequence', decoders: [json['decoder'], { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { Regex: '(?:x+y?)+z' }, content: '' }] }] }],
    ] as const) {
      const error = check({ [part]: step });
      expect(ModelLoadError.isInstance(error), String(error)).toBe(true);
      expect((error as ModelLoadError).path).toBe(PATH);
      expect((error as Error).message).toMatch(new RegExp(`^/models/story/tokenizer\\.json: ${part}: the (Split|Replace) pattern ".*" nests repetitions \\(".*"\\): on some texts such a pattern backtracks for an exponential time, which would hang the process`));
    }
  });

  it('says a pattern that does not compile does not compile (it read as one growing text without bound)', () => {
    const error = check({ normalizer: { type: 'Replace', pattern: { Regex: '((' }, content: 'x' } });
    expect(ModelLoadError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/^\/models\/story\/tokenizer\.json: normalizer: the Replace pattern "\(\(" does not compile \(Invalid regular expression: .*\); use the model's original tokenizer\.json\.$/);
  });

  describe('at load', () => {
    let dir: string;
    const weft = runtime();
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'weft-redos-'));
      await cp(storyModel, dir, { recursive: true });
      await writeFile(join(dir, 'tokenizer.json'), JSON.stringify({ ...json, pre_tokenizer: { type: 'Sequence', pretokenizers: [split('(\\w+\\s?)+$'), json['pre_tokenizer']] } }));
    });
    afterAll(async () => {
      await weft.dispose();
      await rm(dir, { recursive: true, force: true });
    });

    it('fails the load with a ModelLoadError, where the model used to hang on a prompt with a comma', async () => {
      const error = await weft.load(dir).catch((e: unknown) => e);
      expect(ModelLoadError.isInstance(error), String(error)).toBe(true);
      expect((error as Error).message).toMatch(/pre_tokenizer: the Split pattern "\(\\\\w\+\\\\s\?\)\+\$" nests repetitions/);
    });
  });
});
