import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HfTokenizer, IncrementalDetokenizer, seededRandom, type Tokenizer } from '../src/index.js';
import { unfinishedTail } from '../src/tokenizer/incremental-detokenizer.js';
import { fixture, hasStories260k, stories260k, storyModel, windowed } from './helpers.js';

const load = (dir: string, config: Record<string, unknown> = {}) =>
  new HfTokenizer(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')), { ...JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')), ...config });

/** Streams `ids` and returns every delta, the flushed rest last. */
function stream(tokenizer: Tokenizer, ids: readonly number[], context: readonly number[] = []): string[] {
  const d = new IncrementalDetokenizer(tokenizer, context);
  return [...ids.map((id) => d.push(id)), d.flush()];
}

/**
 * What a stream primed with a prompt releases, from `deltas` of a decoder that saw the prompt's
 * bytes too: when the prompt ended inside a character (`pending`), the first text out starts with
 * either that character, completed (new text), or the U+FFFD the prompt's own text already shows
 * for it (not new text, so dropped).
 */
function afterPrompt(deltas: readonly string[], pending: boolean): string[] {
  const out = [...deltas];
  const first = out.findIndex((d) => d !== '');
  if (pending && first >= 0 && out[first]!.startsWith('\uFFFD')) out[first] = out[first]!.slice(1);
  return out;
}


describe('incremental detokenizing', () => {
  const story = load(storyModel);

  it('streams byte-level tokens as bytes on the story tokenizer, and decodes windows where clean-up or another decoder applies', () => {
    expect(story.tokenPiece).toBeTypeOf('function');
    expect(load(storyModel, { clean_up_tokenization_spaces: true }).tokenPiece).toBeUndefined();
    if (hasStories260k) expect(load(stories260k).tokenPiece).toBeUndefined(); // sentencepiece-style decoder
  });

  it('gives exactly the tokenizer’s decode of the whole sequence, for random ids including specials and split characters', () => {
    const random = seededRandom(7);
    for (let trial = 0; trial < 300; trial++) {
      const ids = Array.from({ length: 1 + Math.floor(random() * 40) }, () => Math.floor(random() * story.vocabSize));
      const fast = stream(story, ids);
      expect(fast.join('')).toBe(story.decode(ids));
      expect(fast.join('')).toBe(stream(windowed(story), ids).join(''));
      expect(fast.slice(0, -1).some((d) => d.includes('\uFFFD') && !story.decode(ids).includes('\uFFFD'))).toBe(false);
    }
  });

  it('never emits half a character: emoji and CJK arrive whole, at the token that completes them', () => {
    const text = 'Mia saw 🦊 and 猫 — “ok” ✨!';
    const ids = story.encode(text, { addSpecialTokens: false });
    const deltas = stream(story, ids);
    expect(deltas.join('')).toBe(text);
    expect(deltas.every((d) => !d.includes('\uFFFD'))).toBe(true);
    expect(deltas).toContain(deltas.find((d) => d.includes('🦊')));
    // The windowed path releases the same deltas at the same ids.
    expect(stream(windowed(story), ids)).toEqual(deltas);
  });

  it('does not repeat the prompt’s unfinished character as a U+FFFD when the generated ids do not complete it', () => {
    // The prompt ends with the first bytes of "中"; its own text already ends in U+FFFD.
    const prompt = story.encode('Once upon a time 中', { addSpecialTokens: false }).slice(0, -1);
    expect(story.decode(prompt).endsWith('\uFFFD')).toBe(true);
    const generated = story.encode(', there was', { addSpecialTokens: false });
    expect(stream(story, generated, prompt).join('')).toBe(', there was');
    // A row that ends before any id (an abort) releases nothing.
    expect(stream(story, [], prompt)).toEqual(['']);
    // A generated "中" (its own bytes, from the lead) still comes out whole.
    const han = story.encode('中', { addSpecialTokens: false });
    expect(stream(story, han, prompt).join('')).toBe('中');
  });

  it('completes a character the prompt left unfinished', () => {
    const ids = story.encode('🦊', { addSpecialTokens: false });
    if (ids.length < 2) return; // the vocabulary has the whole emoji as one token
    const deltas = stream(story, ids.slice(1), ids.slice(0, 1));
    expect(deltas.join('')).not.toContain('\uFFFD');
  });

  it('completes a character the prompt left unfinished on the windowed path too, never emitting half of it', () => {
    // Byte tokens follow the 6 specials in the project's vocabulary.
    const [fox, cat, accent] = ['🦊', '猫', 'é'].map((c) => [...new TextEncoder().encode(c)].map((b) => 6 + b));
    expect(story.decode(fox!)).toBe('🦊');
    for (const [bytes, char] of [[fox!, '🦊'], [cat!, '猫'], [accent!, 'é']] as const) {
      const prompt = [...story.encode('Hi ', { addSpecialTokens: false }), bytes[0]!];
      const rest = [...bytes.slice(1), ...story.encode(' ok', { addSpecialTokens: false })];
      const deltas = stream(windowed(story), rest, prompt);
      expect(deltas.join('')).toBe(`${char} ok`);
      expect(deltas.some((d) => /[\uD800-\uDFFF]/.test(d.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, '')))).toBe(false);
      expect(deltas).toEqual(stream(story, rest, prompt));
    }
    // A prompt byte that the next id does not continue stays the prompt's: it is not emitted.
    const broken = stream(windowed(story), story.encode('A ok', { addSpecialTokens: false }), [fox![0]!]);
    expect(broken.join('')).toBe('A ok');
  });

  it.skipIf(!hasStories260k)('completes a character the prompt left unfinished with sentencepiece byte fallback (stories260k)', () => {
    const sp = load(stories260k);
    const bytes = (s: string) => [...new TextEncoder().encode(s)].map((b) => 3 + b); // <0xXX> pieces follow 3 specials
    expect(sp.decode(bytes('😀'))).toBe('😀');
    for (const [prompt, rest, text] of [
      [[1, ...bytes('Hi '), ...bytes('😀').slice(0, 1)], [...bytes('😀').slice(1), ...bytes(' ok')], '😀 ok'],
      [[1, ...bytes('caf'), ...bytes('é').slice(0, 1)], [...bytes('é').slice(1), ...bytes(' ok')], 'é ok'],
    ] as const) {
      expect(stream(sp, rest, prompt).join('')).toBe(text);
    }
  });

  it('primes with the prompt’s last ids as if it had streamed them, skipping those before an ASCII piece', () => {
    const random = seededRandom(11);
    // Ids whose bytes are not all ASCII, so contexts often end inside a character.
    const wide = story.encode('🦊猫é✨—“', { addSpecialTokens: false });
    const pick = (): number => (random() < 0.5 ? wide[Math.floor(random() * wide.length)]! : Math.floor(random() * story.vocabSize));
    for (let trial = 0; trial < 300; trial++) {
      const context = Array.from({ length: Math.floor(random() * 7) }, pick);
      const ids = Array.from({ length: 1 + Math.floor(random() * 6) }, pick);
      const reference = new IncrementalDetokenizer(story);
      const probe = new IncrementalDetokenizer(story);
      for (const id of context.slice(-4)) {
        reference.push(id);
        probe.push(id);
      }
      const pending = probe.flush() !== ''; // the context's last ids left an unfinished character
      expect(stream(story, ids, context)).toEqual(afterPrompt([...ids.map((id) => reference.push(id)), reference.flush()], pending));
    }
  });

  it('works the same on the fixture tokenizer', () => {
    const tiny = load(fixture('tiny'));
    const bytes = [...new TextEncoder().encode('🙂é')].map((b) => 6 + b);
    expect(stream(tiny, bytes)).toEqual(['', '', '', '🙂', '', 'é', '']);
  });

  describe('byte pieces against a streaming TextDecoder', () => {
    /** A byte-level vocabulary of arbitrary byte strings (only `tokenPiece` is read). */
    const bytesVocabulary = (pieces: readonly Uint8Array[]): Tokenizer =>
      ({ tokenPiece: (id: number) => pieces[id] ?? null }) as unknown as Tokenizer;
    /** Bytes that exercise every branch: ASCII, continuations, valid and never-valid leads, range edges. */
    const interesting = [0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xff];
    const random = seededRandom(23);
    const randomPiece = (): Uint8Array =>
      Uint8Array.from({ length: 1 + Math.floor(random() * 3) }, () => (random() < 0.8 ? interesting[Math.floor(random() * interesting.length)]! : Math.floor(random() * 256)));
    const pieces = Array.from({ length: 400 }, randomPiece);
    const vocabulary = bytesVocabulary(pieces);
    const randomIds = (count: number): number[] => Array.from({ length: count }, () => Math.floor(random() * pieces.length));

    it('releases exactly what TextDecoder with stream: true releases at each piece, and the same at the end', () => {
      for (let trial = 0; trial < 2000; trial++) {
        const ids = randomIds(1 + Math.floor(random() * 8));
        const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
        const expected = [...ids.map((id) => decoder.decode(pieces[id], { stream: true })), decoder.decode()];
        expect(stream(vocabulary, ids)).toEqual(expected);
      }
    });

    it('primes from the prompt to the state a TextDecoder reaches after the prompt, without its text', () => {
      for (let trial = 0; trial < 2000; trial++) {
        const context = randomIds(Math.floor(random() * 6));
        const ids = randomIds(1 + Math.floor(random() * 5));
        const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
        const probe = new TextDecoder('utf-8', { ignoreBOM: true });
        for (const id of context) {
          decoder.decode(pieces[id], { stream: true });
          probe.decode(pieces[id], { stream: true });
        }
        const pending = probe.decode() !== ''; // the prompt ended inside a character
        const expected = [...ids.map((id) => decoder.decode(pieces[id], { stream: true })), decoder.decode()];
        expect(stream(vocabulary, ids, context)).toEqual(afterPrompt(expected, pending));
      }
    });

    it('holds back only a valid unfinished character', () => {
      const tail = (...bytes: number[]) => unfinishedTail(Uint8Array.from(bytes));
      expect(tail(0x61, 0xe2, 0x82)).toBe(1); // "€" missing its last byte
      expect(tail(0xf0, 0x9f, 0x98)).toBe(0); // an emoji missing its last byte
      expect(tail(0xe2, 0x82, 0xac)).toBe(3); // complete
      expect(tail(0xe0, 0x80)).toBe(2); // overlong: replaced at once
      expect(tail(0xed, 0xa0)).toBe(2); // a surrogate: replaced at once
      expect(tail(0xf4, 0x90)).toBe(2); // past U+10FFFF: replaced at once
      expect(tail(0xc1)).toBe(1); // never a lead
      expect(tail(0x80, 0x80, 0x80)).toBe(3); // continuations without a lead
      expect(tail()).toBe(0);
    });
  });
});

