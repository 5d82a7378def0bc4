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
    expectRefused(result, /^\/models\/story\/tokenizer\.json: decoder: its steps \(Replace, ByteLevel, Unicode normalization and the like\) can grow text 128× \(limit 64×\)/);
  });

  it('refuses the 26-step bomb at once, in the normalizer too, and in nested Sequences', () => {
    const started = Date.now();
    expectRefused(check({ decoder: { type: 'Sequence', decoders: [json['decoder'], ...doubling(26)] } }), /decoder: its steps \(Replace, ByteLevel, Unicode normalization and the like\) can grow text 67108864×/);
    expectRefused(check({ normalizer: { type: 'Sequence', normalizers: doubling(26) } }), /normalizer: its steps \(Replace, ByteLevel, Unicode normalization and the like\) can grow text 67108864×/);
    const nested = { type: 'Sequence', decoders: [{ type: 'Sequence', decoders: doubling(4) }, { type: 'Sequence', decoders: [{ type: 'Sequence', decoders: doubling(3) }] }] };
    expectRefused(build({ decoder: nested }), /decoder: its steps \(Replace, ByteLevel, Unicode normalization and the like\) can grow text 128×/);
    expectRefused(build({ pre_tokenizer: { type: 'Sequence', pretokenizers: doubling(7, 'a') } }), /pre_tokenizer: its steps \(Replace, ByteLevel, Unicode normalization and the like\) can grow text 128×/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses steps that grow text without bound: an empty match replaced by something, $` and $\' replacements', () => {
    for (const pattern of [{ String: '' }, { Regex: 'x*' }, { Regex: '(?=e)' }, { Regex: '\\b' }, { Regex: 'a|' }, { Regex: '^' }]) {
      expectRefused(build({ normalizer: { type: 'Replace', pattern, content: 'e' } }), /normalizer: its steps \(Replace, ByteLevel, Unicode normalization and the like\) can grow text without bound/);
    }
    expectRefused(build({ normalizer: { type: 'Replace', pattern: { String: 'e' }, content: '$`' } }), /without bound/);
    // `$&` copies the match: ten copies of a ten-letter match are ten times the text, whatever its length.
    expectRefused(
      build({ normalizer: { type: 'Sequence', normalizers: Array.from({ length: 2 }, () => ({ type: 'Replace', pattern: { String: 'eeeeeeeeee' }, content: '$&'.repeat(10) })) } }),
      /normalizer: its steps \(Replace, ByteLevel, Unicode normalization and the like\) can grow text 100×/,
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

describe('steps that lengthen text without a Replace', () => {
  const seq = (key: string, steps: object[]) => ({ type: 'Sequence', [key]: steps });

  it('counts ByteLevel, BertNormalizer and Unicode forms that an earlier step feeds', () => {
    // 16 ByteLevels turn "a b" into 32,770 characters (each doubles a non-ASCII character's length).
    expect(worstGrowth(seq('pretokenizers', Array.from({ length: 16 }, () => ({ type: 'ByteLevel', add_prefix_space: false, use_regex: false }))), 'pre_tokenizer')).toBe(3 ** 16);
    // Spaces around CJK, then each space made CJK: 3^10.
    const cjk = Array.from({ length: 10 }, () => [{ type: 'BertNormalizer', handle_chinese_chars: true }, { type: 'Replace', pattern: { String: ' ' }, content: '中' }]).flat();
    expect(worstGrowth(seq('normalizers', cjk), 'normalizer')).toBe(3 ** 10);
    // A form counts only after a step writes what it expands (U+FDFA is 18 characters under NFKC).
    const expanding = Array.from({ length: 3 }, () => [{ type: 'Replace', pattern: { String: 'a' }, content: '\uFDFA' }, { type: 'NFKC' }]).flat();
    expect(worstGrowth(seq('normalizers', expanding), 'normalizer')).toBe(18 ** 3);
    expectRefused(check({ pre_tokenizer: seq('pretokenizers', Array.from({ length: 4 }, () => ({ type: 'ByteLevel', add_prefix_space: false, use_regex: false }))) }), /pre_tokenizer: .*81× \(limit 64×\)/);
  });

  it('leaves real normalizers and pre-tokenizers under the limit', () => {
    // GPT-2 / Qwen: Split then ByteLevel; BERT; ALBERT/T5-style forms with Replace of plain text.
    expect(worstGrowth(seq('pretokenizers', [{ type: 'Split', pattern: { Regex: '\\s+' }, behavior: 'Isolated', invert: false }, { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }]), 'pre_tokenizer')).toBe(3);
    expect(worstGrowth({ type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true }, 'normalizer')).toBe(3);
    const albert = seq('normalizers', [
      { type: 'Replace', pattern: { String: '``' }, content: '"' },
      { type: 'Replace', pattern: { String: "''" }, content: '"' },
      { type: 'NFKD' },
      { type: 'Precompiled', precompiled_charsmap: null },
      { type: 'Lowercase' },
      { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' },
    ]);
    expect(worstGrowth(albert, 'normalizer')).toBe(1);
    expect(worstGrowth({ type: 'ByteLevel' }, 'decoder')).toBe(1);
  });
});
