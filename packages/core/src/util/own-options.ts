import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { describeCause, quoteValue } from './describe-cause.js';

// Reading options a caller gave, safely: each property once, into a plain copy that is then checked
// and used, so a getter that answers differently on each read, a Proxy, a later change to the
// caller's object or an inherited property cannot make what is used differ from what was checked;
// and a read that throws is an InvalidOptionsError naming what could not be read, never the
// getter's raw error. Core's own readers and the bundled plugins and backends use these; a
// third-party plugin may too.

/** Most items {@link readOptionList} copies by default (a Proxy may claim a length of 2^32 − 1). */
export const MAX_OPTION_LIST = 10_000;

/** How {@link readOwnOptions} names what it could not read (default: paths such as `defaults.numThreads`). */
export interface OptionNaming {
  /** The whole object, in `${what} could not be read: …` (default: `option`, or `options` when empty). */
  readonly what?: string;
  /** One property, in `${label(key)} could not be read: …` (default: `option.key`, or the key alone). */
  readonly label?: (key: string) => string;
  /** The error's `option`: for the object (no key) or one property (default: `what`, `label(key)`). */
  readonly option?: (key?: string) => string;
}

/**
 * A plain copy of `value`'s own enumerable string-keyed properties, each read exactly once.
 * Inherited properties are not options given (`Object.create({ bits: 4 })` gives none); a key
 * named `__proto__` stays an ordinary key (for an unknown-key check to refuse). A Proxy trap or
 * getter that throws is an `InvalidOptionsError`: `defaults could not be read: …` for the keys,
 * `defaults.numThreads could not be read: …` for one property (see {@link OptionNaming}).
 *
 * @param option where the object sits in the caller's options (`''` for the top level)
 */
export function readOwnOptions(value: object, option: string, naming: OptionNaming = {}): Record<string, unknown> {
  const what = naming.what ?? (option === '' ? 'options' : option);
  const label = naming.label ?? ((key: string): string => (option === '' ? optionKeyLabel(key) : `${option}.${optionKeyLabel(key)}`));
  const optionOf = naming.option ?? ((key?: string): string => (key === undefined ? what : label(key)));
  // A Map or Set has no own enumerable properties: its entries would be dropped without a word.
  const collection = collectionKind(value);
  if (collection !== undefined) {
    const hint = collection === 'Map' ? ' (Object.fromEntries(map) turns a Map into one)' : '';
    throw new InvalidOptionsError(`${what} must be a plain object of options, not a ${collection}${hint}.`, { option: optionOf() });
  }
  let keys: string[];
  try {
    keys = Object.keys(value);
  } catch (cause) {
    throw new InvalidOptionsError(`${what} could not be read: ${describeCause(cause)}`, { option: optionOf(), cause });
  }
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    let item: unknown;
    try {
      item = (value as Record<string, unknown>)[key];
    } catch (cause) {
      throw new InvalidOptionsError(`${label(key)} could not be read: ${describeCause(cause)}`, { option: optionOf(key), cause });
    }
    Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * A key as messages name it: as written, or quoted (and shortened when it is over 80 characters)
 * when it is long or holds what would break a one-line message or reach a terminal raw: control
 * characters, line separators, lone surrogates.
 */
export function optionKeyLabel(key: string): string {
  if (key.length <= 80 && !UNPRINTABLE.test(key)) return key;
  // JSON escapes C0 controls and lone surrogates; these it leaves raw.
  return quoteValue(key).replace(RAW_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** DEL, C1 controls (U+009B starts a terminal escape), line and paragraph separators, bidi controls. */
const RAW_IN_JSON = /[\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
/** What {@link optionKeyLabel} quotes: control and bidi characters, separators, and a surrogate without its pair. */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** `Map` or `Set` (and their weak kinds) when `value` is one; a Proxy whose checks throw is none. */
function collectionKind(value: object): string | undefined {
  try {
    if (value instanceof Map) return 'Map';
    if (value instanceof Set) return 'Set';
    if (value instanceof WeakMap) return 'WeakMap';
    if (value instanceof WeakSet) return 'WeakSet';
  } catch {
    // A revoked Proxy or a throwing getPrototypeOf trap: Object.keys reports it below.
  }
  return undefined;
}

/**
 * Whether options may be read from `value`: an object, not null, not an array. A revoked Proxy
 * (on which `Array.isArray` throws) counts, so that {@link readOwnOptions} reports it.
 */
export function isOptionsObject(value: unknown): value is object {
  if (typeof value !== 'object' || value === null) return false;
  try {
    return !Array.isArray(value);
  } catch {
    return true;
  }
}

/** `Array.isArray(value)`; a revoked Proxy (on which it throws) is an `InvalidOptionsError` naming `option`. */
export function isOptionList(value: unknown, option: string): value is readonly unknown[] {
  try {
    return Array.isArray(value);
  } catch (cause) {
    throw new InvalidOptionsError(`${option} could not be read: ${describeCause(cause)}`, { option, cause });
  }
}

/** `list.length`, read once and checked to be a whole number (a Proxy of an array may answer anything). */
export function readOptionListLength(list: readonly unknown[], option: string): number {
  let length: unknown;
  try {
    length = list.length;
  } catch (cause) {
    throw new InvalidOptionsError(`${option}.length could not be read: ${describeCause(cause)}`, { option, cause });
  }
  if (!(typeof length === 'number' && Number.isSafeInteger(length) && length >= 0)) {
    throw new InvalidOptionsError(`${option}.length must be a whole number >= 0 (got ${quoteValue(length)}).`, { option });
  }
  return length;
}

/** `list[index]`, read once; a getter or Proxy trap that throws is an `InvalidOptionsError` naming `option[index]`. */
export function readOptionListItem(list: readonly unknown[], index: number, option: string): unknown {
  try {
    return list[index];
  } catch (cause) {
    throw new InvalidOptionsError(`${option}[${index}] could not be read: ${describeCause(cause)}`, { option: `${option}[${index}]`, cause });
  }
}

/** A plain copy of the array `list`, each item read once, of at most `max` items (an `InvalidOptionsError` beyond). */
export function readOptionList(list: readonly unknown[], option: string, max: number = MAX_OPTION_LIST): unknown[] {
  const length = readOptionListLength(list, option);
  if (length > max) throw new InvalidOptionsError(`${option} holds ${length} items; at most ${max} are allowed.`, { option });
  return Array.from({ length }, (_, i) => readOptionListItem(list, i, option));
}
