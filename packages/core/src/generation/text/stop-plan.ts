import { InvalidOptionsError } from '../../errors/invalid-options-error.js';
import type { Tokenizer } from '../../spec/tokenizer.js';
import { specialContentOf } from '../../tokenizer/special-content.js';
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
 * The stop plan of `stops` (non-empty) for `tokenizer`. Each stop is encoded once, without
 * specials, to find the special tokens it holds. Throws an `InvalidOptionsError` when the stops
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
 * The special tokens `stop` holds. Encoding is most of a plan's cost (some 10 µs per short stop),
 * and the same stops tend to come with every request.
 */
function specialsIn(tokenizer: Tokenizer, stop: string): readonly number[] {
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
