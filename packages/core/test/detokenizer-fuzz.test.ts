import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HfTokenizer, IncrementalDetokenizer, seededRandom, type Tokenizer } from '../src/index.js';
import { hasStories260k, stories260k, storyModel, windowed } from './helpers.js';
import { allFamilies, llama2, llama3, SAMPLES } from './tokenizer-family-fixtures.js';

const load = (dir: string, config: Record<string, unknown> = {}) =>
  new HfTokenizer(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')), { ...JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')), ...config });


function pool(t: Tokenizer, specials: number[]): number[][] {
  const bytes: number[] = [];
  for (let b = 0; b < 256; b++) { const id = t.tokenToId(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`); if (id !== undefined) bytes.push(id); }
  const text = Object.values(SAMPLES).join(' ');
  const enc = t.encode(text, { addSpecialTokens: false });
  const meta = [t.tokenToId('▁'), t.tokenToId('Ġ'), t.tokenToId(' ')].filter((x): x is number => x !== undefined);
  const unknown = [t.vocabSize, t.vocabSize + 7];
  const punct = t.encode(" . , ' n't 's ! ?", { addSpecialTokens: false });
  return [bytes, enc, specials, meta, unknown, punct];
}

/**
 * Streams `ids` after the prompt `context` and returns what comes out, with what should: the text
 * that `ids` add to the decode of the prompt's last ids, where the prompt's trailing U+FFFD (an
 * unfinished character) is replaced when the ids complete it.
 */
function streamed(t: Tokenizer, ids: readonly number[], context: readonly number[]) {
  const d = new IncrementalDetokenizer(t, context);
  const deltas = [...ids.map((id) => d.push(id)), d.flush()];
  let want = t.decode(ids);
  if (context.length > 0) {
    const c4 = context.slice(-4);
    const full = t.decode([...c4, ...ids]);
    const prompt = t.decode(c4);
    if (full.startsWith(prompt)) want = full.slice(prompt.length);
    else want = prompt.endsWith('\uFFFD') && full.startsWith(prompt.slice(0, -1)) ? full.slice(prompt.length - 1) : '<<no reference>>';
  }
  return { got: deltas.join(''), want, deltas };
}

function run(name: string, t: Tokenizer, specials: number[], seed: number, trials: number, clean: boolean) {
  const groups = pool(t, specials).filter((g) => g.length > 0);
  const random = seededRandom(seed);
  const pick = () => { const g = groups[Math.floor(random() * groups.length)]!; return random() < 0.1 ? Math.floor(random() * t.vocabSize) : g[Math.floor(random() * g.length)]!; };
  const failures: string[] = [];
  const seq = (n: number) => { const out: number[] = []; while (out.length < n) { const id = pick(); const r = random() < 0.2 ? 1 + Math.floor(random() * 20) : 1; for (let i = 0; i < r; i++) out.push(id); } return out; };
  for (let trial = 0; trial < trials && failures.length < 5; trial++) {
    const ids = seq(1 + Math.floor(random() * 60));
    const ctx = random() < 0.5 || clean ? [] : seq(Math.floor(random() * 6));
    const { got, want, deltas } = streamed(t, ids, ctx);
    if (got !== want) failures.push(JSON.stringify({ name, ctx, ids, got, want, deltas }));
  }
  return failures;
}

describe('fuzz', () => {
  const tokenizers: [string, Tokenizer, number[], boolean][] = [];
  for (const f of allFamilies()) {
    const t = new HfTokenizer(structuredClone(f.tokenizerJson), structuredClone(f.tokenizerConfig));
    const clean = f.tokenizerConfig['clean_up_tokenization_spaces'] !== false;
    tokenizers.push([f.name, t, Object.values(f.ids), clean]);
    if (!clean) tokenizers.push([f.name + '-win', windowed(t), Object.values(f.ids), clean]);
  }
  const story = load(storyModel);
  tokenizers.push(['story-win', windowed(story), [0, 1, 2, 3, 4, 5], false]);
  tokenizers.push(['story-clean', load(storyModel, { clean_up_tokenization_spaces: true }), [0, 1, 2, 3, 4, 5], true]);
  if (hasStories260k) tokenizers.push(['s260k', load(stories260k), [0, 1, 2], false]);
  it.each(tokenizers.map((x) => [x[0], x] as const))('%s', (_n, [name, t, specials, clean]) => {
    const f = run(name, t, specials, 1, 3000, clean);
    if (f.length) console.log(f.join('\n'));
    expect(f).toEqual([]);
  });
});

/** A vocabulary of byte strings decoded as the library's byte decoders do (one TextDecoder over all bytes). */
function bytesTokenizer(pieces: readonly Uint8Array[], fast: boolean): Tokenizer {
  const decoder = new TextDecoder();
  const t = {
    encode: () => [],
    decode: (ids: readonly number[]) => decoder.decode(Uint8Array.from(ids.flatMap((id) => [...(pieces[id] ?? [])]))),
    applyChatTemplate: () => '',
    tokenToId: () => undefined,
    chatTemplateAddsBos: false,
    vocabSize: pieces.length,
  } as Tokenizer;
  return fast ? { ...t, tokenPiece: (id: number) => pieces[id] ?? null } : t;
}

describe('incremental detokenizing of arbitrary byte pieces after a prompt', () => {
  const interesting = [0x41, 0x20, 0x80, 0x82, 0x9f, 0xa0, 0xac, 0xbf, 0xc0, 0xc3, 0xe0, 0xe2, 0xed, 0xef, 0xf0, 0xf4, 0xff];
  const random = seededRandom(41);
  // Pieces of 0 to 3 bytes: empty ones sit inside characters without adding bytes.
  const pieces = Array.from({ length: 300 }, () => Uint8Array.from({ length: Math.floor(random() * 4) }, () => interesting[Math.floor(random() * interesting.length)]!));
  const randomIds = (n: number) => {
    const out: number[] = [];
    while (out.length < n) {
      const id = Math.floor(random() * pieces.length);
      const run = random() < 0.15 ? 1 + Math.floor(random() * 20) : 1;
      for (let i = 0; i < run; i++) out.push(id);
    }
    return out;
  };

  it.each([['windowed', false], ['byte-level', true]] as const)('%s: gives what the ids add to the prompt’s text', (_name, fast) => {
    const t = bytesTokenizer(pieces, fast);
    for (let trial = 0; trial < 3000; trial++) {
      const context = randomIds(Math.floor(random() * 6));
      const ids = randomIds(1 + Math.floor(random() * 40));
      const { got, want } = streamed(t, ids, context);
      if (want !== '<<no reference>>') expect({ context, ids, got }).toEqual({ context, ids, got: want });
    }
  });

  it('the windowed path completes a prompt’s character after invalid bytes, or after the ASCII of the same piece, without repeating either', () => {
    const b = (...bytes: number[]) => Uint8Array.from(bytes);
    // 0: "H", 1: FF (invalid), 2: E2 (starts "€"), 3: 82 AC (ends it), 4: "r" C3 (starts "ß"), 5: 9F (ends it), 6: AC E2, 7: empty
    const t = bytesTokenizer([b(0x48), b(0xff), b(0xe2), b(0x82, 0xac), b(0x72, 0xc3), b(0x9f), b(0x82, 0xac, 0xe2), b()], false);
    expect(streamed(t, [3, 0], [0, 1, 2]).deltas.join('')).toBe('€H');
    expect(streamed(t, [3, 0], [0, 1, 1, 1, 2]).deltas.join('')).toBe('€H');
    expect(streamed(t, [5, 0], [0, 4]).deltas.join('')).toBe('ßH');
    // The completing piece starts another character, and the stream ends there.
    expect(streamed(t, [6], [0, 2]).deltas.join('')).toBe('€\uFFFD');
    // The prompt's unfinished character, then a long run of invalid bytes: out as they come.
    const run = streamed(t, [...Array<number>(300).fill(1), 0], [0, 2]);
    expect(run.got).toBe('\uFFFD'.repeat(300) + 'H');
    expect(run.deltas.slice(0, 250).join('').length).toBeGreaterThan(200);
  });

  it('a byte-level prompt ending in a character’s first bytes and a piece without bytes still completes it', () => {
    const t = bytesTokenizer([Uint8Array.of(0x6f, 0xc3), new Uint8Array(0), Uint8Array.of(0x9f)], true);
    expect(t.decode([0, 1, 2])).toBe('oß');
    expect(streamed(t, [2], [0, 1]).deltas.join('')).toBe('ß');
  });

  it('real tokenizers: Llama 2 byte fallback after invalid bytes, Llama 3 pieces holding ASCII and a lead byte', () => {
    const sp = new HfTokenizer(structuredClone(llama2().tokenizerJson), structuredClone(llama2().tokenizerConfig));
    const byte = (x: number) => sp.tokenToId(`<0x${x.toString(16).toUpperCase().padStart(2, '0')}>`)!;
    const hi = sp.encode('Hi', { addSpecialTokens: false });
    expect(streamed(sp, [byte(0x82), byte(0xac), ...hi], [1, ...hi, byte(0xff), byte(0xe2)]).got).toBe('€ Hi');
    // Llama 3 cleans up spaces, so it decodes through the window.
    const l3 = new HfTokenizer(structuredClone(llama3().tokenizerJson), structuredClone(llama3().tokenizerConfig));
    expect(l3.tokenPiece).toBeUndefined();
    let found = 0;
    for (let id = 0; id < l3.vocabSize && found < 20; id++) {
      const text = l3.decode([id]);
      if (!/^[a-z]\uFFFD$/.test(text)) continue;
      for (let next = 0; next < l3.vocabSize; next++) {
        const whole = l3.decode([id, next]);
        if (whole.length !== 2 || whole[0] !== text[0] || whole.includes('\uFFFD')) continue;
        found++;
        expect(streamed(l3, [next], [id]).got).toBe(whole.slice(1));
        break;
      }
    }
    expect(found).toBeGreaterThan(0);
  });
});

describe('incremental detokenizing with ids the tokenizer does not have inside characters', () => {
  it('byte fallback: unknown ids (a padded embedding) between a character’s bytes never split it', () => {
    const sp = new HfTokenizer(structuredClone(llama2().tokenizerJson), structuredClone(llama2().tokenizerConfig));
    const byte = (x: number) => sp.tokenToId(`<0x${x.toString(16).toUpperCase().padStart(2, '0')}>`)!;
    const some = [0x41, 0x80, 0x82, 0xac, 0xe2, 0xe0, 0xf0, 0x9f, 0xff].map(byte);
    const unknown = sp.vocabSize + 5;
    const random = seededRandom(5);
    for (let trial = 0; trial < 2000; trial++) {
      const ids = Array.from({ length: 1 + Math.floor(random() * 50) }, () => (random() < 0.4 ? unknown : some[Math.floor(random() * some.length)]!));
      expect({ ids, got: streamed(sp, ids, []).got }).toEqual({ ids, got: sp.decode(ids) });
    }
  });
});
