import { describeCause, InvalidOptionsError, quoteValue } from '@weft/core';

/**
 * A plain copy of `value`'s own enumerable string-keyed properties, each read exactly once, so
 * options are checked and used from the same values. Inherited properties are not options given
 * (`Object.create({ bits: 4 })` gives none). A getter or proxy trap that throws is an
 * `InvalidOptionsError`: `${what} could not be read: …` for the keys, `${label(key)} could not be
 * read: …` for one property; `option(key)` is the error's `option`.
 */
export function readOwnOptions(value: object, what: string, label: (key: string) => string, option: (key?: string) => string): Record<string, unknown> {
  let keys: string[];
  try {
    keys = Object.keys(value);
  } catch (cause) {
    throw new InvalidOptionsError(`${what} could not be read: ${describeCause(cause)}`, { option: option(), cause });
  }
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    let item: unknown;
    try {
      item = (value as Record<string, unknown>)[key];
    } catch (cause) {
      throw new InvalidOptionsError(`${label(key)} could not be read: ${describeCause(cause)}`, { option: option(key), cause });
    }
    // defineProperty: a key named `__proto__` stays an ordinary key (and is refused as unknown).
    Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** A key as messages name it: as written, or quoted and shortened when it is long. */
export function keyLabel(key: string): string {
  return key.length <= 80 ? key : quoteValue(key);
}

/**
 * `Array.isArray(value)`, false where it throws (a revoked proxy): such a value is then taken as
 * an options object, whose read ({@link readOwnOptions}) reports it as an `InvalidOptionsError`.
 */
export function isArray(value: unknown): boolean {
  try {
    return Array.isArray(value);
  } catch {
    return false;
  }
}
