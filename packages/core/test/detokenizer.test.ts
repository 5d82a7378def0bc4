import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HfTokenizer, IncrementalDetokenizer, seededRandom, type Tokenizer } from '../src/index.js';
import { fixture, hasStories260k, stories260k, storyModel } from './helpers.js';

const load = (dir: string, config: Record<string, unknown> = {}) =>
  new HfTokenizer(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')), { ...JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')), ...config });

/** Streams `ids` and returns every delta, the flushed rest last. */
function stream(tokenizer: Tokenizer, ids: readonly number[], context: readonly number[] = []): string[] {
  const d = new IncrementalDetokenizer(tokenizer, context);
  return [...ids.map((id) => d.push(id)), d.flush()];
}

/** The same tokenizer without the byte-level fast path (windowed decoding). */
const windowed = (t: Tokenizer): Tokenizer => ({
  encode: (x, o) => t.encode(x, o),
  decode: (ids, o) => t.decode(ids, o),
  applyChatTemplate: (m, o) => t.applyChatTemplate(m, o),
  tokenToId: (x) => t.tokenToId(x),
  chatTemplateAddsBos: t.chatTemplateAddsBos,
  vocabSize: t.vocabSize,
});

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

  it('completes a character the prompt left unfinished', () => {
    const ids = story.encode('🦊', { addSpecialTokens: false });
    if (ids.length < 2) return; // the vocabulary has the whole emoji as one token
    const deltas = stream(story, ids.slice(1), ids.slice(0, 1));
    expect(deltas.join('')).not.toContain('\uFFFD');
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
      for (const id of context.slice(-4)) reference.push(id);
      expect(stream(story, ids, context)).toEqual([...ids.map((id) => reference.push(id)), reference.flush()]);
    }
  });

  it('works the same on the fixture tokenizer', () => {
    const tiny = load(fixture('tiny'));
    const bytes = [...new TextEncoder().encode('🙂é')].map((b) => 6 + b);
    expect(stream(tiny, bytes)).toEqual(['', '', '', '🙂', '', 'é', '']);
  });
});
