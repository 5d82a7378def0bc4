/**
 * A tokenizer.json whose normalizer, pre-tokenizer or decoder could lengthen text without bound
 * (a Sequence of Replace steps that each double a letter) is refused before the library builds
 * it: built, 26 such steps ran the process out of memory (a fatal V8 error) on the load's probe.
 * Real tokenizers' steps (Llama's `▁` → space, Metaspace, T5's whitespace squeeze) still load.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelLoadError } from '../src/index.js';
import { checkTokenizerJson } from '../src/tokenizer/check-tokenizer-json.js';
import { HfTokenizer } from '../src/tokenizer/hf-tokenizer.js';
import { regexMinLength, worstGrowth } from '../src/tokenizer/text-growth.js';
import { storyModel } from './helpers.js';

const read = async (file: string): Promise<Record<string, unknown>> => JSON.parse(await readFile(join(storyModel, file), 'utf8')) as Record<string, unknown>;
const json = await read('tokenizer.json');
const config = await read('tokenizer_config.json');
const PATH = '/models/story/tokenizer.json';

const doubling = (n: number, letter = 'e'): object[] => Array.from({ length: n }, () => ({ type: 'Replace', pattern: { String: letter }, content: letter + letter }));

function build(changes: Record<string, unknown>): unknown {
  try {
    return new HfTokenizer({ ...json, ...changes }, config, PATH);
  } catch (error) {
    return error;
  }
}

/** The check alone, without building: safe for the 26-step bomb (built, it ran the process out of memory). */
function check(changes: Record<string, unknown>): unknown {
  try {
    return checkTokenizerJson({ ...json, ...changes }, PATH);
  } catch (error) {
    return error;
  }
}

function expectRefused(result: unknown, message: RegExp): void {
  expect(ModelLoadError.isInstance(result), String(result)).toBe(true);
  expect((result as ModelLoadError).path).toBe(PATH);
  expect((result as Error).message).toMatch(message);
}

describe('tokenizer.json steps that grow text', () => {
  it('refuses a decoder Sequence of Replace steps doubling a letter past 64×', () => {
    // 7 steps: 128×. (26 ran the process out of memory; 21 took 8 s per 8 tokens.)
    const result = build({ decoder: { type: 'Sequence', decoders: [json['decoder'], ...doubling(7)] } });
    expectRefused(result, /^\/models\/story\/tokenizer\.json: decoder: Replace steps can grow text 128× \(limit 64×\)/);
  });

  it('refuses the 26-step bomb at once, in the normalizer too, and in nested Sequences', () => {
    const started = Date.now();
    expectRefused(check({ decoder: { type: 'Sequence', decoders: [json['decoder'], ...doubling(26)] } }), /decoder: Replace steps can grow text 67108864×/);
    expectRefused(check({ normalizer: { type: 'Sequence', normalizers: doubling(26) } }), /normalizer: Replace steps can grow text 67108864×/);
    const nested = { type: 'Sequence', decoders: [{ type: 'Sequence', decoders: doubling(4) }, { type: 'Sequence', decoders: [{ type: 'Sequence', decoders: doubling(3) }] }] };
    expectRefused(build({ decoder: nested }), /decoder: Replace steps can grow text 128×/);
    expectRefused(build({ pre_tokenizer: { type: 'Sequence', pretokenizers: doubling(7, 'a') } }), /pre_tokenizer: Replace steps can grow text 128×/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses steps that grow text without bound: an empty match replaced by something, $` and $\' replacements', () => {
    for (const pattern of [{ String: '' }, { Regex: 'x*' }, { Regex: '(?=e)' }, { Regex: '\\b' }, { Regex: 'a|' }, { Regex: '^' }]) {
      expectRefused(build({ normalizer: { type: 'Replace', pattern, content: 'e' } }), /normalizer: Replace steps can grow text without bound/);
    }
    expectRefused(build({ normalizer: { type: 'Replace', pattern: { String: 'e' }, content: '$`' } }), /without bound/);
    // `$&` copies the match: ten copies of a ten-letter match are ten times the text, whatever its length.
    expectRefused(
      build({ normalizer: { type: 'Sequence', normalizers: Array.from({ length: 2 }, () => ({ type: 'Replace', pattern: { String: 'eeeeeeeeee' }, content: '$&'.repeat(10) })) } }),
      /normalizer: Replace steps can grow text 100×/,
    );
  });

  it('accepts the steps of real tokenizers, and growth up to the limit', () => {
    const llamaDecoder = {
      type: 'Sequence',
      decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }],
    };
    const llamaNormalizer = { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] };
    const t5Normalizer = { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }, { type: 'Replace', pattern: { Regex: '\\s+$' }, content: '' }] };
    const metaspace = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true };
    for (const [part, step] of [['decoder', llamaDecoder], ['normalizer', llamaNormalizer], ['normalizer', t5Normalizer], ['pre_tokenizer', metaspace], ['decoder', metaspace]] as const) {
      expect(worstGrowth(step, part), part).toBe(1);
    }
    expect(build({ decoder: llamaDecoder, normalizer: llamaNormalizer })).toBeInstanceOf(HfTokenizer);
    expect(build({ decoder: { type: 'Sequence', decoders: [json['decoder'], ...doubling(6)] } })).toBeInstanceOf(HfTokenizer); // 64×
  });

  it('reads the shortest match of a regex, erring short', () => {
    const cases: [string, number][] = [
      ['e', 1], ['abc', 3], ['a+', 1], ['a{3}', 3], ['a{2,5}b', 3], ['a{,5}', 0], ['a*b?', 0], ['a+?', 1], ['(ab|c)d', 2], ['(?:ab)+', 2],
      ['[a-z]{4}', 4], ['[\\]x]', 1], ['\\p{L}\\p{N}', 2], ['\\x41\\u0042', 2], ['(?<=a)b', 1], ['(?!a)', 0], ['\\bfoo\\b', 3], ['(a)\\1', 1],
      ['(?i)ab', 2], ['(?<name>ab)', 2], ['\\Qa.b\\E', 3], ['😀😀', 2], ['a|', 0], ['(', 0], ['a)', 0], ['[abc', 0], ['a{}', 3],
    ];
    for (const [source, min] of cases) expect(regexMinLength(source), source).toBe(min);
  });
});
