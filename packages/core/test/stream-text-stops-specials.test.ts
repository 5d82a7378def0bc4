import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionsError, seededRandom, type FinishReason, type GenerationEvent, type HfTokenizer, type Sampler, type Tokenizer, type WeftModel } from '../src/index.js';
import { RowState } from '../src/generation/row-state.js';
import { IncrementalDetokenizer } from '../src/tokenizer/incremental-detokenizer.js';
import { collect, done, hasStories260k, runtime, stories260k, storyModel } from './helpers.js';
import { build, drive, firstStop, load, textBefore } from './stream-text-stops-kit.js';
import { allFamilies, gemma, llama3, qwen2 } from './tokenizer-family-fixtures.js';

/**
 * Stop strings that hold a special token's content with other text (`"<end_of_turn>\n"`,
 * `"\n<|im_end|>"`): decoding skips the token, so its content never shows in the text, yet the
 * stop matches where the model writes the token.
 */

/** Half of a surrogate pair on its own: a sentinel, or a character cut in two. */
const LONE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The pieces of a driven row, checked: they add up to its text, and none holds half a character. */
function checked(result: ReturnType<typeof drive>, context = ''): ReturnType<typeof drive> {
  const { row, deltas, flushed } = result;
  expect(deltas.join('') + flushed, context).toBe(row.text);
  for (const piece of [...deltas, flushed, row.text]) expect(LONE.test(piece), `${context} ${JSON.stringify(piece)}`).toBe(false);
  return result;
}

/**
 * A tokenizer with two special tokens' contents and helpers: `ids(text)` are ids that continue a
 * text with exactly `text` (no leading-space rules of a text's start), `a`/`b` the tokens' ids.
 */
function kit(tokenizer: HfTokenizer, a: string, b: string) {
  const encode = (x: string) => tokenizer.encode(x, { addSpecialTokens: false });
  const lead = encode('a');
  const ids = (x: string): number[] => {
    const all = encode(`a${x}`);
    const rest = all.slice(lead.length);
    expect(all.slice(0, lead.length)).toEqual(lead);
    expect(tokenizer.decode([...lead, ...rest])).toBe(`a${x}`);
    return rest;
  };
  const id = (content: string): number => {
    const found = tokenizer.tokenToId(content)!;
    expect(tokenizer.decode([found]), content).toBe('');
    expect(tokenizer.decode([found], { skipSpecialTokens: false })).toBe(content);
    return found;
  };
  // Every row starts with "a", so ids() continue it as they were made to.
  return { tokenizer, A: a, B: b, a: id(a), b: id(b), lead, ids, nl: ids('\n') };
}

type Kit = ReturnType<typeof kit>;

const kits: [string, () => Kit][] = [
  ['gemma', () => kit(build(gemma()), '<end_of_turn>', '<start_of_turn>')],
  ['qwen2', () => kit(build(qwen2()), '<|im_end|>', '<|endoftext|>')],
  ['llama3', () => kit(build(llama3()), '<|eot_id|>', '<|start_header_id|>')],
  ['story', () => kit(load(storyModel), '<|user|>', '<|assistant|>')],
];
if (hasStories260k) kits.push(['stories260k', () => kit(load(stories260k), '</s>', '<s>')]);

describe.each(kits)('stop strings holding special tokens (%s tokenizer)', (_name, make) => {
  const k = make();
  const { tokenizer: t, A, B, a, b, lead, ids, nl } = k;
  const decode = (x: readonly number[]) => t.decode(x);
  const text = [...lead, ...ids(' there é')];
  const more = ids(' more');

  it('special then "\\n": stops at the "\\n" token with the text before the special; special then other text: no stop, text as before', () => {
    const stop = `${A}\n`;
    const hit = checked(drive(t, [...text, a, ...nl, ...more], ['nowhere', stop]));
    expect(hit.row.finishReason).toBe('stop');
    expect(hit.row.generated).toEqual([...text, a, ...nl]);
    expect(hit.row.text).toBe(decode(text));
    expect(hit.flushed).toBe('');
    // Text after the special that is not the rest of the stop: the special is skipped, as ever.
    for (const after of [[...more, ...nl], [a, ...more], [...ids(' '), ...nl]]) {
      const ids = [...text, a, ...after];
      const miss = checked(drive(t, ids, [stop]), JSON.stringify(ids));
      expect([miss.row.text, miss.row.finishReason, miss.row.generated]).toEqual([decode(ids), 'length', ids]);
    }
    // "\n" then the special is not the stop.
    const swapped = checked(drive(t, [...text, ...nl, a, ...more], [stop]));
    expect([swapped.row.text, swapped.row.finishReason]).toEqual([decode([...text, ...nl, ...more]), 'length']);
  });

  it('text before the special ("\\n" + special): the held "\\n" is dropped with the stop; a "\\n" followed by text comes out', () => {
    const stop = `\n${A}`;
    const hit = checked(drive(t, [...text, ...nl, a, ...more], [stop]));
    expect([hit.row.text, hit.row.finishReason, hit.row.generated]).toEqual([decode(text), 'stop', [...text, ...nl, a]]);
    // The first "\n" was no stop's start once the second came: it is text.
    const twice = checked(drive(t, [...text, ...nl, ...nl, a], [stop]));
    expect([twice.row.text, twice.row.finishReason]).toEqual([decode([...text, ...nl]), 'stop']);
    const miss = checked(drive(t, [...text, ...nl, ...more, a, ...nl], [stop]));
    expect([miss.row.text, miss.row.finishReason]).toEqual([decode([...text, ...nl, ...more, ...nl]), 'length']);
  });

  it('two specials in one stop, and a special between two texts', () => {
    const both = `${A}${B}`;
    const hit = checked(drive(t, [...text, b, a, b, ...more], [both]));
    expect([hit.row.text, hit.row.finishReason, hit.row.generated]).toEqual([decode(text), 'stop', [...text, b, a, b]]);
    const apart = [...text, a, ...more, b, b, a];
    const miss = checked(drive(t, apart, [both]));
    expect([miss.row.text, miss.row.finishReason]).toEqual([decode(apart), 'length']);
    // Special, text, special: and text, special, text.
    const sandwich = checked(drive(t, [...text, a, ...nl, b, ...more], [`${A}\n${B}`]));
    expect([sandwich.row.text, sandwich.row.finishReason, sandwich.row.generated]).toEqual([decode(text), 'stop', [...text, a, ...nl, b]]);
    const middle = `\n${A}\n`;
    const mid = checked(drive(t, [...text, ...nl, a, ...nl, ...more], [middle]));
    expect([mid.row.text, mid.row.finishReason, mid.row.generated]).toEqual([decode(text), 'stop', [...text, ...nl, a, ...nl]]);
    // Most of it, then other text: everything held comes out (the special skipped).
    const partial = [...text, ...nl, a, ...more, ...nl];
    const part = checked(drive(t, partial, [middle, `${A}\n${B}`]));
    expect([part.row.text, part.row.finishReason]).toEqual([decode(partial), 'length']);
  });

  it('a stop that is the special alone ends the row at it, as before; a longer stop ending with it and completed with it wins', () => {
    // Alone: the row ends at the special with everything before it, held text included.
    const alone = checked(drive(t, [...text, ...nl, a, ...more], [A, `${A}\n`]));
    expect([alone.row.text, alone.row.finishReason, alone.row.generated]).toEqual([decode([...text, ...nl]), 'stop', [...text, ...nl, a]]);
    // "\n" + special completes at the special too, and is the longer: the "\n" goes with it.
    const longer = checked(drive(t, [...text, ...nl, a, ...more], [A, `\n${A}`]));
    expect([longer.row.text, longer.row.finishReason, longer.row.generated]).toEqual([decode(text), 'stop', [...text, ...nl, a]]);
    // The other special of a two-special stop still ends it alone.
    const first = checked(drive(t, [...text, a, ...more], [A, `${A}${B}`, `${B}${A}`]));
    expect([first.row.text, first.row.finishReason, first.row.generated]).toEqual([decode(text), 'stop', [...text, a]]);
    const second = checked(drive(t, [...text, b, a], [A, `${B}${A}`]));
    expect([second.row.text, second.row.finishReason]).toEqual([decode(text), 'stop']);
  });

  it('characters outside the BMP right before and after the special come out whole, including ones sharing a sentinel’s units', () => {
    const stop = `${A}\n`;
    // 🐀 ends with U+DC00 (what a one-unit low-surrogate sentinel would be); U+10FC00 and U+10F800
    // start with U+DBFF and U+DBFE, the units this request's sentinels use.
    for (const chars of ['🦊', '🐀', '\u{10FC00}', '\u{10F800}', 'é猫']) {
      const before = ids(` ${chars}`);
      const after = ids(`${chars}\n`);
      const on = [...text, ...before, a, ...after];
      const miss = checked(drive(t, on, [stop]), chars);
      expect([miss.row.text, miss.row.finishReason], chars).toEqual([decode(on), 'length']);
      expect(miss.deltas.some((d) => d.includes('\uFFFD')), chars).toBe(false);
      const hit = checked(drive(t, [...text, ...before, a, ...nl, ...after], [stop]), chars);
      expect([hit.row.text, hit.row.finishReason], chars).toEqual([decode([...text, ...before]), 'stop']);
      // The character then "\n" with no special between is no stop.
      const plain = [...text, ...after];
      expect(checked(drive(t, plain, [stop]), chars).row.finishReason).toBe('length');
    }
  });

  it('a stop string holding half a surrogate pair, or a character sharing a sentinel’s unit, does not collide with the sentinels', () => {
    // Requests refuse lone surrogates; rows take them. Were a sentinel U+DBFF or U+DBFE, these
    // stops would match it at the special.
    const stops = ['\uDBFF', '\uDBFE', '\uDC00', '\u{10FD00}', `${A}\n`];
    const on = [...text, a, ...more, b, a];
    const miss = checked(drive(t, on, stops));
    expect([miss.row.text, miss.row.finishReason]).toEqual([decode(on), 'length']);
    const hit = checked(drive(t, [...text, a, ...nl], stops));
    expect([hit.row.text, hit.row.finishReason]).toEqual([decode(text), 'stop']);
    // A stop character right after the special still ends the row there, as text.
    const char = checked(drive(t, [...text, a, ...ids('\u{10FD00}'), ...more], stops));
    expect([char.row.text, char.row.finishReason]).toEqual([decode(text), 'stop']);
  });

  it('a row that ends by length, eos or abort while a special and text after it are held releases the text, without the special', () => {
    const stop = `${A}\nUser:`;
    const held = ids('\nUs');
    for (const end of ['length', 'eos', 'abort'] as FinishReason[]) {
      const r = checked(drive(t, [...text, a, ...held], [stop], end), end);
      expect([r.row.text, r.row.finishReason, r.flushed], end).toEqual([decode([...text, ...held]), end, '\nUs']);
      expect(r.deltas.join(''), end).toBe(decode(text));
      // Only the special held: nothing to flush.
      const bare = checked(drive(t, [...text, a], [stop], end), end);
      expect([bare.row.text, bare.row.finishReason, bare.flushed], end).toEqual([decode(text), end, '']);
    }
  });
});

describe('stop strings holding special tokens: sentinels', () => {
  it('stops that use (nearly) every high surrogate leave too few for the sentinels: InvalidOptionsError naming stop', () => {
    const t = build(qwen2());
    // One character per high surrogate (U+10000 + n·U+0400 starts with U+D800 + n).
    const every = Array.from({ length: 1024 }, (_, n) => String.fromCodePoint(0x10000 + n * 0x400));
    const error = (() => {
      try {
        new RowState(0, [], t, [every.join(''), '<|im_end|>\n']);
      } catch (e) {
        return e;
      }
    })();
    expect(InvalidOptionsError.isInstance(error)).toBe(true);
    expect((error as InvalidOptionsError).option).toBe('stop');
    // Two left are enough for one special (the shared first unit and its own); without a special
    // inside a stop none are needed.
    const row = new RowState(0, [], t, [every.slice(2).join(''), '<|im_end|>\n']);
    const [im, nl] = [t.tokenToId('<|im_end|>')!, t.encode('\n', { addSpecialTokens: false })[0]!];
    expect([row.accept(im), row.accept(nl), row.finishReason]).toEqual(['', '', 'stop']);
    expect(() => new RowState(0, [], t, [every.join(''), '<|im_end|>'])).not.toThrow();
  });
});

/** Strings whose ids exercise the detokenizer: clean-up patterns, split characters, spaces. */
const TRICKY = [" ' ", ' .', ' ,', '  ', 'é', '猫', '🦊', '€', '\n', ' \n ', 'x', ' n', "'", 'a ', ' the', 'Hello world'];

const tokenizers: [string, () => HfTokenizer][] = [
  ['story', () => load(storyModel)],
  ...allFamilies().map((f) => [f.name, () => build(f)] as [string, () => HfTokenizer]),
];
if (hasStories260k) tokenizers.push(['stories260k', () => load(stories260k)]);

describe.each(tokenizers)('rows of random ids with random stops holding special tokens (%s tokenizer)', (_name, make) => {
  it('stop as the text with each special token’s content in its place would, that content matched whole', () => {
    checkRandomRows(make(), 29);
  });
});

/**
 * The reference: the text of the ids with the content of each special token that a stop holds at
 * its place, matched whole (a stop matches only where it holds a content entirely or not at all).
 * Trials where the detokenizer holds text back at such a special (half a character, or a space the
 * clean-up may remove, which stream-text-stops-held-spaces.test.ts covers) are left out: half a
 * character is matched after the special.
 */
function checkRandomRows(t: Tokenizer, seed: number): void {
  const random = seededRandom(seed);
  const contentOf = (id: number) => (id >= 0 && id < t.vocabSize && t.decode([id]) === '' ? t.decode([id], { skipSpecialTokens: false }) : '');
  const specials = Array.from({ length: t.vocabSize }, (_, id) => id).filter((id) => contentOf(id) !== '').slice(0, 4);
  expect(specials.length).toBeGreaterThan(0);
  const texts = [...new Set(TRICKY.flatMap((x) => t.encode(x, { addSpecialTokens: false })))];
  const pick = (): number => {
    const r = random();
    return r < 0.55 ? texts[Math.floor(random() * texts.length)]! : r < 0.85 ? specials[Math.floor(random() * specials.length)]! : Math.floor(random() * t.vocabSize);
  };
  const counts = { special: 0, text: 0, none: 0, skipped: 0 };
  for (let trial = 0; trial < 700; trial++) {
    const ids = Array.from({ length: 1 + Math.floor(random() * 20) }, pick);
    // The text with every special's content, for picking stops from.
    const withAll = reference(t, ids, new Set(ids.filter((id) => contentOf(id) !== '')), contentOf);
    if (!withAll) {
      counts.skipped++;
      continue;
    }
    const stops: string[] = [];
    for (let s = 1 + Math.floor(random() * 3); s > 0; s--) {
      const r = random();
      if (r < 0.75 && withAll.text.length > 0) {
        // A piece of it, widened to hold any content it cuts into whole.
        let from = Math.floor(random() * withAll.text.length);
        let to = Math.min(withAll.text.length, from + 1 + Math.floor(random() * 4));
        for (const [start, end] of withAll.contents) {
          if (from > start && from < end) from = start;
          if (to > start && to < end) to = end;
        }
        stops.push(withAll.text.slice(from, to));
      } else {
        stops.push(['\n', 'e', ' ', '🦊'][Math.floor(random() * 4)]!);
      }
    }
    const good = stops.filter((s) => !s.includes('\uFFFD') && !LONE.test(s));
    const held = new Set(ids.filter((id) => { const c = contentOf(id); return c !== '' && good.some((s) => s.includes(c)); }));
    const ref = reference(t, ids, held, contentOf);
    if (!ref) {
      counts.skipped++;
      continue;
    }
    const result = drive(t, ids, good);
    const context = JSON.stringify({ ids, stops: good, ref: ref.text, deltas: result.deltas, flushed: result.flushed });
    const { row } = checked(result, context);
    expect(row.generated, context).toEqual(ids.slice(0, row.generated.length));
    const found = firstStop(ref.text, good, ref.contents);
    if (!found) {
      counts.none++;
      expect([row.text, row.finishReason, row.generated], context).toEqual([t.decode(ids), 'length', ids]);
      continue;
    }
    const expected = textBefore(ref.text, ref.contents, found.start);
    expect([row.text, row.finishReason], context).toEqual([expected, 'stop']);
    // Completed by a special's content: the row ends at that token.
    const last = ref.contents.findIndex(([start, end]) => found.end > start && found.end <= end);
    if (last >= 0) {
      counts.special++;
      expect(row.generated.length, context).toBe(ref.tokenAt[last]! + 1);
    } else counts.text++;
  }
  expect(counts.special).toBeGreaterThan(60);
  expect(counts.text).toBeGreaterThan(60);
  expect(counts.none).toBeGreaterThan(30);
}

/**
 * The ids' text with the content of each id in `held` at its place: `contents` are those ranges and
 * `tokenAt` the index in `ids` of each. Undefined where the detokenizer has not emitted all the
 * text before such a token when it comes, or the text before it is not where the whole text starts.
 */
function reference(t: Tokenizer, ids: readonly number[], held: ReadonlySet<number>, contentOf: (id: number) => string) {
  const detokenizer = new IncrementalDetokenizer(t);
  let emitted = '';
  let text = '';
  let before = '';
  const contents: [number, number][] = [];
  const tokenAt: number[] = [];
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (held.has(id)) {
      const decoded = t.decode(ids.slice(0, i));
      if (emitted !== decoded || !decoded.startsWith(before)) return undefined;
      text += decoded.slice(before.length);
      before = decoded;
      contents.push([text.length, text.length + contentOf(id).length]);
      tokenAt.push(i);
      text += contentOf(id);
    }
    emitted += detokenizer.push(id);
  }
  const all = t.decode(ids);
  if (!all.startsWith(before)) return undefined;
  return { text: text + all.slice(before.length), contents, tokenAt };
}


/**
 * Through the generation loop: models/story (byte-level; its chat tokens are special, EOS is
 * <|eos|>), every token forced by a sampler.
 */
describe('stop strings holding special tokens through the generation loop (models/story, forced tokens)', () => {
  const weft = runtime();
  let model: WeftModel;
  beforeAll(async () => {
    model = await weft.load(storyModel);
  });
  afterAll(() => weft.dispose());

  const streamedText = (events: readonly GenerationEvent[], row: number): string =>
    events.flatMap((e) => ((e.type === 'token' || e.type === 'flush') && e.row === row ? [e.text] : [])).join('');

  it('rows of one batch stop at a special and "\\n", at "\\n" and a special, at two specials, or run on; text before the special only', async () => {
    const t = model.tokenizer;
    const encode = (x: string) => t.encode(x, { addSpecialTokens: false });
    const [system, user, assistant, eos] = ['<|system|>', '<|user|>', '<|assistant|>', '<|eos|>'].map((s) => t.tokenToId(s)!) as [number, number, number, number];
    const rows = [
      [...encode('Hi there'), user, ...encode('\nmore text')], // "<|user|>\n"
      [...encode('A 🦊'), user, ...encode('🦊 and on, and on and on to the end')], // the special, then other text
      [...encode('Ok\n'), assistant, ...encode(' rest')], // "\n<|assistant|>"
      [...encode('Bye é'), system], // half of "<|system|><|user|>", then EOS
      [system, user, ...encode('never')], // "<|system|><|user|>" at once
    ];
    const maxTokens = rows[1]!.length;
    const stop = ['<|user|>\n', '\n<|assistant|>', '<|system|><|user|>'];
    const sampler: Sampler = { name: 'force', sample: (_l, c) => rows[c.row]![c.step] ?? eos };
    const events = await collect(model.generate({ prompt: ['a', 'b', 'c', 'd', 'e'], maxTokens, stop, sampler }));
    const result = done(events);
    const decode = (x: readonly number[]) => t.decode(x);
    expect(result.rows.map((r) => r.finishReason)).toEqual(['stop', 'length', 'stop', 'eos', 'stop']);
    expect(result.rows.map((r) => r.text)).toEqual(['Hi there', decode(rows[1]!), 'Ok', 'Bye é', '']);
    expect(result.rows.map((r) => r.ids)).toEqual([
      [...encode('Hi there'), user, ...encode('\n')],
      rows[1],
      [...encode('Ok\n'), assistant],
      [...encode('Bye é'), system],
      [system, user],
    ]);
    expect(decode(rows[1]!)).toBe('A 🦊🦊 and on, and on and on to the end');
    for (let r = 0; r < rows.length; r++) {
      expect(streamedText(events, r), `row ${r}`).toBe(result.rows[r]!.text);
    }
    for (const e of events) if (e.type === 'token' || e.type === 'flush') expect(LONE.test(e.text), JSON.stringify(e)).toBe(false);
    // model.text gives the first row's text, without the stop.
    expect(await model.text({ prompt: 'a', maxTokens, stop, sampler })).toBe('Hi there');
  });

  it('an end-of-sequence token that completes a stop ends the row with stop and cuts the text; one that does not ends it with eos', async () => {
    // Qwen's <|im_end|> and Gemma's <end_of_turn> are EOS ids: a stop "\n<|im_end|>" must still drop the "\n".
    const t = model.tokenizer;
    const encode = (x: string) => t.encode(x, { addSpecialTokens: false });
    const eos = t.tokenToId('<|eos|>')!;
    const rows = [
      [...encode('Hi there\n'), eos], // completes "\n<|eos|>"
      [...encode('Hi there'), eos], // no "\n" before it: a plain end of sequence
      [...encode('Bye\n'), eos], // the same at another row of the batch
    ];
    const stop = ['\n<|eos|>'];
    const sampler: Sampler = { name: 'force', sample: (_l, c) => rows[c.row]![c.step] ?? eos };
    const events = await collect(model.generate({ prompt: ['a', 'b', 'c'], maxTokens: 16, stop, sampler }));
    const result = done(events);
    expect(result.rows.map((r) => [r.finishReason, r.text])).toEqual([
      ['stop', 'Hi there'],
      ['eos', 'Hi there'],
      ['stop', 'Bye'],
    ]);
    // As at any end of sequence, the EOS id is not among the generated ids.
    expect(result.rows.map((r) => r.ids)).toEqual(rows.map((ids) => ids.slice(0, -1)));
    for (let r = 0; r < rows.length; r++) expect(streamedText(events, r), `row ${r}`).toBe(result.rows[r]!.text);
    // Beside the EOS token's own stop: the longer stop completed with it still cuts the "\n"; alone it ends as eos.
    expect(done(await collect(model.generate({ prompt: 'a', maxTokens: 16, stop: ['<|eos|>', '\n<|eos|>'], sampler }))).rows[0]).toMatchObject({ finishReason: 'stop', text: 'Hi there' });
    expect(done(await collect(model.generate({ prompt: 'b', maxTokens: 16, stop: ['<|eos|>', '\n<|eos|>'], sampler: { name: 'force', sample: (_l, c) => rows[1]![c.step] ?? eos } }))).rows[0]).toMatchObject({ finishReason: 'eos', text: 'Hi there' });
  });

  it('stop strings using nearly every high surrogate: the request fails with InvalidOptionsError naming stop', async () => {
    const every = Array.from({ length: 1024 }, (_, n) => String.fromCodePoint(0x10000 + n * 0x400)).join('');
    const error = await collect(model.generate({ prompt: 'a', maxTokens: 2, stop: [every, '<|user|>\n'] })).catch((e: unknown) => e);
    expect(InvalidOptionsError.isInstance(error)).toBe(true);
    expect((error as InvalidOptionsError).option).toBe('stop');
  });
});
