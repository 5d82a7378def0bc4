import { Tokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';
import { config, prng, readJson } from './helpers.js';

const tokenizerJson = readJson('tokenizer.json');
const tokenizerConfig = readJson('tokenizer_config.json');
const tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);

const encode = (text: string, addSpecialTokens: boolean): number[] =>
  tokenizer.encode(text, { add_special_tokens: addSpecialTokens }).ids;

/**
 * Expected ids from the Python encoder the training data was made with (models/make/tokenizer_bpe.py):
 * `[BOS] + ByteLevelBpe(merges).encode(text)`, merges as `tokenizer_bpe.train` learns them from
 * `data.train_stories(16000, 2000)[:3000]` with vocabulary 1024 (deterministic).
 */
const STORY = 'Once upon a time, there was a little fox named Max. He liked to play in the park with his friend Lily!';
const STORY_IDS = [1, 878, 876, 264, 395, 50, 366, 277, 264, 350, 699, 371, 733, 52, 365, 341, 315, 275, 410, 361, 265, 295, 296, 113, 343, 347, 308, 840, 39];
/**
 * What the chat template renders for a system and a user turn with a generation prompt:
 * `[BOS, <|system|>] + encode("\nYou tell short stories.\n") + [<|user|>] + encode("\nTell me about a fox.\n")
 * + [<|assistant|>] + encode("\n")`. (Training's own chat layout, `data.chat_ids`, has no system turn.)
 */
const CHAT_TEXT = '<|bos|><|system|>\nYou tell short stories.\n<|user|>\nTell me about a fox.\n<|assistant|>\n';
const CHAT_IDS = [1, 3, 16, 95, 276, 263, 516, 896, 120, 122, 418, 117, 294, 497, 52, 16, 4, 16, 90, 516, 521, 394, 264, 699, 52, 16, 5, 16];

/** Pieces for random strings: every kind is valid UTF-16 (no lone surrogates), so UTF-8 round trips are exact. */
function randomString(rand: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const range = (lo: number, hi: number): string => String.fromCodePoint(lo + Math.floor(rand() * (hi - lo + 1)));
  const kinds: (() => string)[] = [
    () => range(0x20, 0x7e), // printable ASCII (includes `_`, quotes, ` .`, `'s`)
    () => range(0x20, 0x7e).repeat(1 + Math.floor(rand() * 3)),
    () => pick(['the', ' fox', ' was', "'s", "'ll", ' 42', '3.14', ' !?', 'don\'t', ' _x_', ' .', ' ,']),
    () => range(0xc0, 0x17f), // Latin-1 / Latin Extended-A accents
    () => pick(['e\u0301', 'n\u0303', 'a\u0308\u0304', 'Å', 'ß', 'Œ', 'ø']), // combining marks, precomposed
    () => range(0x4e00, 0x9fff), // CJK ideographs
    () => range(0x3040, 0x30ff), // kana
    () => range(0x0400, 0x04ff), // Cyrillic
    () => range(0x0600, 0x06ff), // Arabic (incl. Arabic-Indic digits)
    () => range(0x1f300, 0x1faff), // emoji: surrogate pairs
    () => pick(['👩‍💻', '👨‍👩‍👧‍👦', '🏳️‍🌈', '❤️', '👍🏽', '🇯🇵', '🧑🏿‍🚀', '#️⃣']), // ZWJ, VS16, skin tones, flags, keycaps
    () => range(0x10000, 0x10ffff), // any astral code point (surrogate pair), assigned or not
    () => pick(['\n', '\n\n', '\r\n', '\t', ' ', '  ', '   ', ' \n ', '\u00a0', '\u3000', '\u2028']),
  ];
  const n = 1 + Math.floor(rand() * 24);
  let s = '';
  for (let i = 0; i < n; i++) s += pick(kinds)();
  return s;
}

describe('story tokenizer (@huggingface/tokenizers)', () => {
  it('loads with the special tokens the model config names', () => {
    expect(tokenizer.get_vocab(true).size).toBe(config.vocab_size);
    expect(tokenizer.token_to_id('<|pad|>')).toBe(0);
    expect(tokenizer.token_to_id('<|bos|>')).toBe(1);
    expect(tokenizer.token_to_id('<|eos|>')).toBe(2);
    const named = tokenizerConfig as Record<string, unknown>;
    expect(tokenizer.token_to_id(named['pad_token'] as string)).toBe(config.pad_token_id);
    expect(tokenizer.token_to_id(named['bos_token'] as string)).toBe(config.bos_token_id);
    expect(tokenizer.token_to_id(named['eos_token'] as string)).toBe(config.eos_token_id);
    const generation = readJson<Record<string, number>>('generation_config.json');
    expect([generation['pad_token_id'], generation['bos_token_id'], generation['eos_token_id']]).toEqual([0, 1, 2]);
  });

  it('round-trips random UTF-8 text byte for byte', () => {
    const rand = prng(20240611);
    const failures: string[] = [];
    for (let i = 0; i < 600; i++) {
      const s = randomString(rand);
      const ids = encode(s, false);
      if (ids.some((id) => id < 6 || id >= config.vocab_size)) failures.push(`ids out of range for ${JSON.stringify(s)}`);
      const back = tokenizer.decode(ids, { skip_special_tokens: false });
      if (!Buffer.from(back, 'utf8').equals(Buffer.from(s, 'utf8'))) failures.push(`${JSON.stringify(s)} -> ${JSON.stringify(back)}`);
    }
    expect(failures).toEqual([]);
  });

  it('encodes a story sentence to the ids the Python encoder made for training', () => {
    expect(encode(STORY, true)).toEqual(STORY_IDS);
    expect(encode(STORY, false)).toEqual(STORY_IDS.slice(1));
    expect(tokenizer.decode(STORY_IDS, { skip_special_tokens: true })).toBe(STORY);
    expect(tokenizer.decode(STORY_IDS, { skip_special_tokens: false })).toBe(`<|bos|>${STORY}`);
  });

  it('maps the chat template role tokens to ids 3/4/5 and splits chat text like training did', () => {
    expect(tokenizer.token_to_id('<|system|>')).toBe(3);
    expect(tokenizer.token_to_id('<|user|>')).toBe(4);
    expect(tokenizer.token_to_id('<|assistant|>')).toBe(5);
    const template = (tokenizerConfig as Record<string, unknown>)['chat_template'];
    expect(typeof template).toBe('string');
    // The template writes `<|role|>` for each message and `<|assistant|>` for the generation prompt, after the BOS.
    expect(template).toContain('{{ bos_token }}');
    expect(template).toContain("'<|' + message['role'] + '|>\\n'");
    expect(template).toContain("'<|assistant|>\\n'");
    // What it renders for a system + user turn with a generation prompt:
    expect(encode(CHAT_TEXT, false)).toEqual(CHAT_IDS);
    expect(tokenizer.decode(CHAT_IDS, { skip_special_tokens: false })).toBe(CHAT_TEXT);
    expect(tokenizer.decode(CHAT_IDS, { skip_special_tokens: true })).toBe(CHAT_TEXT.replace(/<\|[a-z]+\|>/gu, ''));
  });
});
