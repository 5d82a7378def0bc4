import { InvalidOptionsError } from '../../errors/invalid-options-error.js';
import type { Tokenizer } from '../../spec/tokenizer.js';
import { specialContentOf } from '../../tokenizer/special-content.js';
import { MAX_STOP_LENGTH } from '../request-limits.js';
import { SentinelStopMatcher } from './sentinel-stop-matcher.js';
import { StopMatcher } from './stop-matcher.js';

/**
 * A request's stop strings as each of its rows matches them, worked out once per request.
 *
 * Special tokens decode to '' (decoding skips them), so their content never shows in the text. A
 * stop that is exactly one's content ends the row at that token (`endIds`). A stop that holds one's
 * content with other text (`"<end_of_turn>\n"`, `"\n<|im_end|>"`) is matched with a sentinel in
 * place of that content, which the row pushes into its matcher where the token comes
 * (`sentinels`; see `SentinelStopMatcher`). The stop is still matched as plain text too, as before.
 */
export interface StopPlan {
  /**
   * The special tokens a row must look at before decoding: those in `endIds` and those with a
   * sentinel. Undefined when none.
   */
  readonly specialIds: ReadonlySet<number> | undefined;
  /** Tokens whose content is a whole stop string: the row ends at them. Undefined when none. */
  readonly endIds: ReadonlySet<number> | undefined;
  /** Per token whose content is part of a longer stop, its sentinel. Undefined when none. */
  readonly sentinels: ReadonlyMap<number, string> | undefined;
  /** A matcher for one row: a plain `StopMatcher` of the request's stops unless there are sentinels. */
  matcher(): RowStopMatcher;
}

/** What a row's stop matching offers: a `StopMatcher`, or a `SentinelStopMatcher`. */
export type RowStopMatcher = Pick<StopMatcher, 'push' | 'flush'>;

/**
 * The stop plan of `stops` (non-empty) for `tokenizer`. The special tokens each stop holds are
 * found by their text where the tokenizer lists its added tokens, else by encoding it without
 * specials. Throws an `InvalidOptionsError` when the stops
 * use so many high surrogates (characters outside the Basic Multilingual Plane) that too few
 * remain for the sentinels.
 */
export function stopPlan(tokenizer: Tokenizer, stops: readonly string[]): StopPlan {
  const endIds = specialStopIds(tokenizer, stops);
  const inside = specialsInside(tokenizer, stops, endIds);
  if (!inside) return { specialIds: endIds, endIds, sentinels: undefined, matcher: () => new StopMatcher(stops) };

  const units = unusedHighSurrogates(stops, inside.size + 1);
  if (!units) {
    throw new InvalidOptionsError(
      `The stop strings hold ${inside.size} special token${inside.size === 1 ? '' : 's'} but use nearly every UTF-16 high surrogate (characters outside the Basic Multilingual Plane), leaving too few to mark them; use fewer distinct such characters.`,
      { option: 'stop' },
    );
  }
  const [mark, ...own] = units as [string, ...string[]];
  const sentinels = new Map<number, string>();
  // Longest content first: where two start at one place, the longer is the token there.
  const contents = [...inside].sort((a, b) => b[0].length - a[0].length);
  const replacements: [string, string][] = [];
  for (const [content, id] of contents) {
    const sentinel = mark + own[sentinels.size]!;
    sentinels.set(id, sentinel);
    replacements.push([content, sentinel]);
  }
  // A stop that is the content of a token in `endIds` needs no rewrite: the id ends the row.
  const whole = new Set<string>();
  const special = specialContentOf(tokenizer);
  for (const id of endIds ?? []) whole.add(special(id));
  const strings = [...stops];
  const seen = new Set(stops);
  for (const stop of stops) {
    if (whole.has(stop)) continue;
    const rewritten = withSentinels(stop, replacements);
    if (seen.has(rewritten)) continue; // no special content in it, or a duplicate
    seen.add(rewritten);
    strings.push(rewritten);
  }
  const specialIds = new Set([...(endIds ?? []), ...sentinels.keys()]);
  return { specialIds, endIds, sentinels, matcher: () => new SentinelStopMatcher(strings, mark) };
}

/**
 * Ids of the special tokens (ones decoding skips, such as Gemma's `<end_of_turn>` or ChatML's
 * `<|im_end|>`) whose content is a whole stop string: generated text never holds them, so the id
 * itself ends the row. Undefined when no stop string is one.
 */
function specialStopIds(tokenizer: Tokenizer, stops: readonly string[]): ReadonlySet<number> | undefined {
  let ids: Set<number> | undefined;
  const special = specialContentOf(tokenizer);
  for (const stop of stops) {
    const id = tokenizer.tokenToId(stop);
    if (id !== undefined && special(id) === stop) (ids ??= new Set()).add(id);
  }
  return ids;
}

/** Per tokenizer: the special tokens in each stop string as encoding finds them (short stops only; bounded). */
const specialsByStop = new WeakMap<Tokenizer, Map<string, readonly number[]>>();
/** Stops longer than this are encoded at each request rather than kept. */
const CACHED_STOP_LENGTH = 256;
/** The cache of a tokenizer is emptied when it holds this many stops. */
const CACHED_STOPS = 4096;
const NONE: readonly number[] = Object.freeze([]);

/**
 * The special tokens `stop` holds. With the tokenizer's added-token ids, found by looking for their
 * text ({@link scanForSpecials}); else by
 * encoding the stop, which costs some 10 µs for a short stop and hundreds for a long one, so the
 * results are cached, the same stops tending to come with every request.
 */
function specialsIn(tokenizer: Tokenizer, stop: string): readonly number[] {
  const trie = specialTrieOf(tokenizer);
  if (trie === null) return NONE;
  if (trie !== undefined) return scanForSpecials(stop, trie);
  let known = specialsByStop.get(tokenizer);
  if (!known) specialsByStop.set(tokenizer, (known = new Map()));
  let ids = known.get(stop);
  if (ids === undefined) {
    const special = specialContentOf(tokenizer);
    const found = tokenizer.encode(stop, { addSpecialTokens: false }).filter((id) => special(id) !== '');
    ids = found.length === 0 ? NONE : found;
    if (stop.length <= CACHED_STOP_LENGTH) {
      if (known.size >= CACHED_STOPS) known.clear();
      known.set(stop, ids);
    }
  }
  return ids;
}

/**
 * The special tokens (content → id) whose content is in a stop string with other text, or is a
 * whole stop string whose token `endIds` lacks. Undefined when none.
 */
function specialsInside(tokenizer: Tokenizer, stops: readonly string[], endIds: ReadonlySet<number> | undefined): Map<string, number> | undefined {
  let inside: Map<string, number> | undefined;
  const special = specialContentOf(tokenizer);
  for (const stop of stops) {
    for (const id of specialsIn(tokenizer, stop)) {
      const content = special(id);
      if (inside?.has(content) || !stop.includes(content)) continue;
      if (content === stop && endIds?.has(id)) continue;
      (inside ??= new Map()).set(content, id);
    }
  }
  return inside;
}

/** `count` high surrogates found in none of `stops` (from U+DBFF down), or undefined if fewer remain. */
function unusedHighSurrogates(stops: readonly string[], count: number): string[] | undefined {
  const used = new Set<number>();
  for (const stop of stops) {
    for (let i = 0; i < stop.length; i++) {
      const unit = stop.charCodeAt(i);
      if (unit >= 0xd800 && unit <= 0xdbff) used.add(unit);
    }
  }
  const units: string[] = [];
  for (let unit = 0xdbff; unit >= 0xd800 && units.length < count; unit--) if (!used.has(unit)) units.push(String.fromCharCode(unit));
  return units.length === count ? units : undefined;
}

/** `stop` with each special token's content replaced by its sentinel, left to right. */
function withSentinels(stop: string, replacements: readonly (readonly [string, string])[]): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < stop.length; ) {
    const hit = replacements.find(([content]) => stop.startsWith(content, i));
    if (hit === undefined) {
      i++;
      continue;
    }
    out += stop.slice(from, i) + hit[1];
    i += hit[0].length;
    from = i;
  }
  return out + stop.slice(from);
}

/** A trie of special tokens' texts, one UTF-16 unit per level; `id` where a text ends. */
export interface SpecialTrie {
  readonly next: Map<string, SpecialTrie>;
  id?: number;
}

/**
 * Per tokenizer with `addedTokenIds`: the trie of its special tokens' texts (null: it has none;
 * `UNLISTED`: one of them could not be decoded, so its stops are encoded as for a tokenizer that
 * does not list its added tokens).
 */
const specialTries = new WeakMap<Tokenizer, SpecialTrie | null | typeof UNLISTED>();
const UNLISTED = Symbol('unlisted');

/**
 * The trie of the special tokens among `tokenizer.addedTokenIds` (those decoding skips), made once
 * per tokenizer; null when it has none, undefined when it does not list its added tokens. Two
 * added tokens with the same text: the later id, as `tokenToId` and encoding pick.
 */
function specialTrieOf(tokenizer: Tokenizer): SpecialTrie | null | undefined {
  const known = specialTries.get(tokenizer);
  if (known !== undefined) return known === UNLISTED ? undefined : known;
  const added = tokenizer.addedTokenIds;
  if (added === undefined) return undefined;
  let trie: SpecialTrie | null;
  try {
    trie = buildSpecialTrie(added, specialContentOf(tokenizer));
  } catch {
    // A plugin tokenizer whose decode fails on one added id: encoding each stop decodes only the
    // ids found in it, as before the tokenizer listed its added tokens; that path reports its own
    // failures, for the requests they concern.
    specialTries.set(tokenizer, UNLISTED);
    return undefined;
  }
  specialTries.set(tokenizer, trie);
  return trie;
}

/**
 * The trie of the texts of the special tokens among `added`. A text longer than the longest stop
 * string (`MAX_STOP_LENGTH`) is left out: no stop can hold it, and it would cost a node per unit.
 */
export function buildSpecialTrie(added: readonly number[], special: (id: number) => string): SpecialTrie | null {
  const root: SpecialTrie = { next: new Map() };
  let any = false;
  for (const id of added) {
    const content = special(id);
    if (content === '' || content.length > MAX_STOP_LENGTH) continue;
    let node = root;
    for (let i = 0; i < content.length; i++) {
      const unit = content[i]!;
      let child = node.next.get(unit);
      if (child === undefined) node.next.set(unit, (child = { next: new Map() }));
      node = child;
    }
    node.id = id;
    any = true;
  }
  return any ? root : null;
}

/**
 * The ids of the special tokens whose text `stop` holds: left to right, the longest at each
 * position, as encoding splits added tokens out. A text match over the special tokens only: a
 * non-special added token that overlaps one (which encoding would take instead), or a special
 * token that its normalizer changes, is not told apart, so the plan may watch for a special token
 * encoding would not find in that stop; the stop's text is matched as before either way. Costs at
 * most the stop's length times the longest special token's.
 */
function scanForSpecials(stop: string, trie: SpecialTrie): readonly number[] {
  let found: number[] | undefined;
  for (let i = 0; i < stop.length; ) {
    let node: SpecialTrie | undefined = trie;
    let hit: number | undefined;
    let length = 0;
    for (let j = i; j < stop.length; j++) {
      node = node.next.get(stop[j]!);
      if (node === undefined) break;
      if (node.id !== undefined) {
        hit = node.id;
        length = j - i + 1;
      }
    }
    if (hit === undefined) {
      i++;
      continue;
    }
    (found ??= []).push(hit);
    i += length;
  }
  return found ?? NONE;
}
