import { describe, expect, it } from 'vitest';
import { seededRandom, type HfTokenizer, type Tokenizer } from '../src/index.js';
import { RowState } from '../src/generation/row-state.js';
import { StopMatcher } from '../src/generation/text/stop-matcher.js';
import { hasStories260k, stories260k, storyModel } from './helpers.js';
import { build, drive, load, stopCut } from './stream-text-stops-kit.js';
import { allFamilies, gemma, llama3, qwen2 } from './tokenizer-family-fixtures.js';

/** Feeds `pieces` to a matcher; returns what it emitted (the flushed rest too, when no stop matched). */
function match(stops: readonly string[], pieces: readonly string[]): { text: string; stopped: boolean } {
  const m = new StopMatcher(stops);
  let text = '';
  for (const piece of pieces) {
    const { emit, stopped } = m.push(piece);
    text += emit;
    if (stopped) return { text, stopped };
  }
  return { text: text + m.flush(), stopped: false };
}

describe('stop strings: the first one completed ends the text, however the text is cut into tokens', () => {
  it('ends at the stop that completes first, not the one that starts first in a token', () => {
    // "bc" is complete after "xabc"; "abcd" only after "xabcd". Character by character the
    // stream ends at "bc": a token bringing "abcd" at once must end there too.
    expect(match(['abcd', 'bc'], [...'xabcd'])).toEqual({ text: 'xa', stopped: true });
    expect(match(['abcd', 'bc'], ['xabcd'])).toEqual({ text: 'xa', stopped: true });
    expect(match(['abcd', 'bc'], ['xa', 'bcd'])).toEqual({ text: 'xa', stopped: true });
    // Overlapping stops: "abc" completes before "bcd".
    expect(match(['bcd', 'abc'], ['xabcd'])).toEqual({ text: 'x', stopped: true });
    // Completed together: the longer one (it starts first).
    expect(match(['b', 'ab'], ['xab'])).toEqual({ text: 'x', stopped: true });
    expect(match(['ab', 'b'], [...'xab'])).toEqual({ text: 'x', stopped: true });
    // A stop that is a prefix of another completes first.
    expect(match(['abc', 'ab'], ['xabc'])).toEqual({ text: 'x', stopped: true });
    // At the very first piece, and spanning five pieces.
    expect(match(['Hi'], ['Hi there'])).toEqual({ text: '', stopped: true });
    expect(match(['a long stop'], ['ok a', ' l', 'on', 'g s', 'top', ' after'])).toEqual({ text: 'ok ', stopped: true });
    // Held back while it may still become a stop, then released.
    expect(match(['abc'], ['xab', 'd'])).toEqual({ text: 'xabd', stopped: false });
    expect(match(['abc'], ['xab'])).toEqual({ text: 'xab', stopped: false });
  });

  it('gives the same text for random text, stops and cuts as a stream read one character at a time', () => {
    const random = seededRandom(3);
    const alphabet = 'abcab c🦊é\n';
    const chars = [...alphabet];
    for (let trial = 0; trial < 4000; trial++) {
      const text = Array.from({ length: Math.floor(random() * 24) }, () => chars[Math.floor(random() * chars.length)]!).join('');
      const stops = Array.from({ length: 1 + Math.floor(random() * 4) }, () =>
        Array.from({ length: 1 + Math.floor(random() * 4) }, () => chars[Math.floor(random() * chars.length)]!).join(''));
      const pieces: string[] = [];
      const points = [...text];
      for (let i = 0; i < points.length; ) {
        const n = 1 + Math.floor(random() * 6);
        pieces.push(points.slice(i, (i += n)).join(''));
      }
      const cut = stopCut(text, stops);
      const expected = { text: cut < 0 ? text : text.slice(0, cut), stopped: cut >= 0 };
      const context = JSON.stringify({ text, stops, pieces });
      expect(match(stops, pieces), context).toEqual(expected);
      expect(match(stops, points), context).toEqual(expected);
    }
  });

  it('holds back only a suffix that can still start a stop, over a long list of stops', () => {
    const stops = Array.from({ length: 500 }, (_, i) => `stop number ${i} here`);
    const m = new StopMatcher(stops);
    expect(m.push('text then stop numb')).toEqual({ emit: 'text then ', stopped: false });
    expect(m.push('er 49')).toEqual({ emit: '', stopped: false });
    expect(m.push('9 her')).toEqual({ emit: '', stopped: false });
    expect(m.push('e!')).toEqual({ emit: '', stopped: true });
    const other = new StopMatcher(stops);
    expect(other.push('stop number 5000')).toEqual({ emit: 'stop number 5000', stopped: false });
    expect(other.push('')).toEqual({ emit: '', stopped: false });
    expect(other.flush()).toBe('');
  });
});

/** Strings whose ids exercise the detokenizer: clean-up patterns, split characters, spaces. */
const TRICKY = [" ' ", " n't", ' .', ' ,', '  ', 'é', '猫', '🦊', '👩‍💻', '€', '\n', ' \n ', 'x', ' n', "'", 'a ', ' the', 'Hello world'];

const tokenizers: [string, () => HfTokenizer][] = [
  ['story', () => load(storyModel)],
  ...allFamilies().map((f) => [f.name, () => build(f)] as [string, () => HfTokenizer]),
];

describe.each(tokenizers)('rows of random ids with random stops (%s tokenizer)', (_name, make) => {
  const tokenizer = make();
  it('stream exactly the decode of the ids, cut at the first stop completed, with the reason and ids that ended the row', () => {
    checkRandomRows(tokenizer, 13);
  });
});

describe('rows of random ids with random stops (stories260k: sentencepiece, byte fallback)', () => {
  it.skipIf(!hasStories260k)('as for the other tokenizers (needs ../shared/models/stories260k, skipped without it)', () => {
    checkRandomRows(load(stories260k), 17);
  });
});

/** Whether `id` is a special token decoding skips whose content is one of `stops`. */
const isSpecialStop = (t: Tokenizer, id: number, stops: readonly string[]): boolean =>
  t.decode([id]) === '' && stops.includes(t.decode([id], { skipSpecialTokens: false }));

function checkRandomRows(tokenizer: Tokenizer, seed: number): void {
  const random = seededRandom(seed);
  const specials = Array.from({ length: tokenizer.vocabSize }, (_, id) => id).filter((id) => isSpecialStop(tokenizer, id, [tokenizer.decode([id], { skipSpecialTokens: false })]));
  expect(specials.length).toBeGreaterThan(0);
  const wide = [...new Set([...TRICKY.flatMap((x) => tokenizer.encode(x, { addSpecialTokens: false })), ...specials])];
  // Mostly tricky ids, some anywhere in the vocabulary (specials included), a few without a token.
  const pick = (): number => {
    const r = random();
    return r < 0.6 ? wide[Math.floor(random() * wide.length)]! : r < 0.97 ? Math.floor(random() * tokenizer.vocabSize) : tokenizer.vocabSize + 3;
  };
  const counts = { cut: 0, special: 0, none: 0 };
  for (let trial = 0; trial < 1200; trial++) {
    const ids = Array.from({ length: 1 + Math.floor(random() * 30) }, pick);
    const all = tokenizer.decode(ids);
    const stops: string[] = [];
    for (let s = Math.floor(random() * 4); s > 0; s--) {
      const r = random();
      if (r < 0.7 && all.length > 0) {
        // A piece of the text, so that stops often match (across tokens, overlapping, prefixes).
        const at = Math.floor(random() * all.length);
        stops.push(all.slice(at, at + 1 + Math.floor(random() * 5)));
      } else if (r < 0.85) {
        stops.push(['ab', 'b', ' ', '\n', 'e', '猫', 'é', '🦊'][Math.floor(random() * 8)]!);
      } else {
        // The text of one of the ids: for a special token, the content decoding skips.
        stops.push(tokenizer.decode([ids[Math.floor(random() * ids.length)]!], { skipSpecialTokens: false }) || 'zz');
      }
    }
    // Stops that cannot be told apart from an unfinished character or a half surrogate pair are left out.
    const good = stops.filter((s) => !s.includes('\uFFFD') && /^(?:[^\uD800-\uDFFF]|[\uD800-\uDBFF][\uDC00-\uDFFF])+$/.test(s));
    const { row, deltas, flushed } = drive(tokenizer, ids, good);
    const context = JSON.stringify({ ids, stops: good, deltas, flushed, text: row.text, reason: row.finishReason, n: row.generated.length });
    expect(deltas.join('') + flushed, context).toBe(row.text);
    // Text before the first special stop token is everything the row may show.
    const special = ids.findIndex((id) => isSpecialStop(tokenizer, id, good));
    const before = special < 0 ? ids : ids.slice(0, special);
    const full = tokenizer.decode(before);
    // Half a character never comes out before the end (a U+FFFD only where the bytes really are invalid).
    if (!full.includes('\uFFFD')) expect(deltas.some((d) => d.includes('\uFFFD')), context).toBe(false);
    expect(row.generated, context).toEqual(ids.slice(0, row.generated.length));
    const cut = stopCut(full, good);
    if (cut >= 0) {
      counts.cut++;
      expect(row.text, context).toBe(full.slice(0, cut));
      expect(row.finishReason, context).toBe('stop');
      // Where tokens stream as bytes nothing is held back but a stop's possible start: the row
      // ends at the token that completes the stop.
      if (tokenizer.tokenPiece) expect(stopCut(tokenizer.decode(ids.slice(0, row.generated.length - 1)), good), context).toBe(-1);
    } else if (special >= 0) {
      counts.special++;
      expect(row.text, context).toBe(full);
      expect(row.finishReason, context).toBe('stop');
      expect(row.generated, context).toEqual(ids.slice(0, special + 1));
    } else {
      counts.none++;
      expect(row.text, context).toBe(full);
      expect(row.finishReason, context).toBe('length');
      expect(row.generated, context).toEqual(ids);
    }
  }
  expect(counts.cut).toBeGreaterThan(300);
  expect(counts.none).toBeGreaterThan(200);
  expect(counts.special).toBeGreaterThan(5);
}

describe('stop strings on real vocabularies', () => {
  it('a stop ending in a space, completed only when the row ends (clean-up held the space back): text cut and reason stop', () => {
    // Llama 3 cleans up spaces: a trailing " " is held back until the next text shows whether it
    // goes (" ." → "."). A row ending there releases it, completing the stop.
    const tokenizer = build(llama3());
    const ids = tokenizer.encode('Hello world ', { addSpecialTokens: false });
    for (const end of ['length', 'eos'] as const) {
      const { row, deltas, flushed } = drive(tokenizer, ids, ['world '], end);
      expect(deltas.join('') + flushed).toBe('Hello ');
      expect(row.text).toBe('Hello ');
      expect(row.finishReason).toBe('stop');
      expect(row.generated).toEqual(ids);
    }
    // An aborted row stays aborted; the text is still cut.
    const aborted = drive(tokenizer, ids, ['world '], 'abort');
    expect([aborted.row.text, aborted.row.finishReason]).toEqual(['Hello ', 'abort']);
    // The same text without the clean-up ends at its own token, with the same text.
    const plain = build(llama3({ cleanUp: false }));
    const early = drive(plain, plain.encode('Hello world ', { addSpecialTokens: false }), ['world ']);
    expect([early.row.text, early.row.finishReason]).toEqual(['Hello ', 'stop']);
  });

  it('a stop string that is a special token’s content (decoding skips it) ends the row at that token', () => {
    const cases: [HfTokenizer, string][] = [
      [build(gemma()), '<end_of_turn>'],
      [build(qwen2()), '<|im_end|>'],
      [build(llama3()), '<|eot_id|>'],
      [load(storyModel), '<|eos|>'],
    ];
    if (hasStories260k) cases.push([load(stories260k), '</s>']);
    for (const [tokenizer, special] of cases) {
      const id = tokenizer.tokenToId(special)!;
      expect(tokenizer.decode([id]), special).toBe('');
      const text = tokenizer.encode('Hi there é', { addSpecialTokens: false });
      const more = tokenizer.encode(' more text', { addSpecialTokens: false });
      // The last id of "é" is held back on byte-fallback vocabularies: it is released, whole, at the stop.
      const { row, deltas, flushed } = drive(tokenizer, [...text, id, ...more], ['nowhere', special]);
      expect(row.finishReason, special).toBe('stop');
      expect(row.generated, special).toEqual([...text, id]);
      expect(row.text, special).toBe(tokenizer.decode(text));
      expect(deltas.join('') + flushed, special).toBe(row.text);
      expect(flushed, special).toBe('');
      // Text held as a possible stop's start is released there too: it came before the stop.
      const held = drive(tokenizer, [...tokenizer.encode('Hi now', { addSpecialTokens: false }), id], ['nowhere', special]);
      expect([held.row.text, held.row.finishReason], special).toEqual([tokenizer.decode(tokenizer.encode('Hi now', { addSpecialTokens: false })), 'stop']);
      // Not a stop: the special token is skipped as ever.
      const on = drive(tokenizer, [...text, id, ...more], ['nowhere']);
      expect([on.row.text, on.row.finishReason], special).toEqual([tokenizer.decode([...text, ...more]), 'length']);
    }
    // A stop naming an ordinary token is matched as text, where it shows.
    const story = load(storyModel);
    const the = drive(story, story.encode('Hello the end', { addSpecialTokens: false }), [' the']);
    expect([the.row.text, the.row.finishReason]).toEqual(['Hello', 'stop']);
  });

  it('a stop that is one multi-byte character split over byte tokens matches once the character is whole', () => {
    const story = load(storyModel);
    // Byte tokens follow the 6 specials in the project's vocabulary.
    const bytes = (s: string) => [...new TextEncoder().encode(s)].map((b) => 6 + b);
    for (const char of ['€', '🦊', 'é']) {
      const { row, deltas, flushed } = drive(story, [...bytes(`ok ${char} then`)], [char]);
      expect([row.text, row.finishReason, flushed]).toEqual(['ok ', 'stop', '']);
      expect(row.generated).toHaveLength(3 + new TextEncoder().encode(char).length);
      expect(deltas.some((d) => d.includes('\uFFFD'))).toBe(false);
      // Only its first bytes, then the row ends: the held bytes come out as U+FFFD, no stop.
      const half = drive(story, bytes(`ok ${char}`).slice(0, -1), [char]);
      expect([half.row.text, half.row.finishReason]).toEqual(['ok \uFFFD', 'length']);
    }
    if (hasStories260k) {
      const sp = load(stories260k);
      const spBytes = (s: string) => [...new TextEncoder().encode(s)].map((b) => 3 + b); // <0xXX> after 3 specials
      const { row } = drive(sp, [...sp.encode('Hi', { addSpecialTokens: false }), ...spBytes('€ ok')], ['€']);
      expect([row.text, row.finishReason]).toEqual(['Hi', 'stop']);
    }
  });

  it('a stop and the last allowed token at once: stop wins, and nothing after the stop leaks into a flush', () => {
    const story = load(storyModel);
    const ids = story.encode('one two three', { addSpecialTokens: false });
    const row = new RowState(0, [], story, ['two']);
    let text = '';
    for (const id of ids) {
      if (!row.active) break;
      text += row.accept(id);
    }
    expect(row.finishReason).toBe('stop');
    // What the loop does when the same token was the last allowed one, or the run is aborted after it.
    expect(row.finish('length')).toBe('');
    expect(row.finish('abort')).toBe('');
    expect([text, row.text, row.finishReason]).toEqual(['one ', 'one ', 'stop']);
  });
});
