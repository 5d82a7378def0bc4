import { describeCause, InvalidOptionsError, quoteValue } from '@weft/core';

/**
 * A plain copy of `value`'s own enumerable string-keyed properties, each read exactly once.
 * Options are checked and then used from this copy, so a getter that answers differently on each
 * read, a later change to the caller's object, or a property inherited through a prototype
 * (`{ __proto__: { … } }`, a class instance) cannot make what is used differ from what was
 * checked. A key named `__proto__` stays an ordinary key (and is refused as unknown). A property
 * that cannot be read is an `InvalidOptionsError` naming it.
 */
export function ownData(value: object, option: string): Record<string, unknown> {
  let keys: string[];
  try {
    keys = Object.keys(value);
  } catch (cause) {
    throw new InvalidOptionsError(`${option || 'options'} could not be read: ${describeCause(cause)}`, { option: option || 'options', cause });
  }
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    let item: unknown;
    try {
      item = (value as Record<string, unknown>)[key];
    } catch (cause) {
      const at = option === '' ? key : `${option}.${key}`;
      throw new InvalidOptionsError(`${at} could not be read: ${describeCause(cause)}`, { option: at, cause });
    }
    Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** True for an object that options may be read from (not null, not an array, not a function). */
export function isRecord(value: unknown): value is object {
  if (typeof value !== 'object' || value === null) return false;
  try {
    return !Array.isArray(value);
  } catch {
    // A revoked proxy: taken as an object, whose read (ownData) then reports it.
    return true;
  }
}

/** Most items a list in options may hold, as core's load options allow (a proxy may claim 2^32 - 1). */
export const MAX_OPTION_LIST = 10_000;

/** `list.length`, read once; a proxy trap that throws is an `InvalidOptionsError` naming `option`. */
export function listLength(list: readonly unknown[], option: string): number {
  let length: unknown;
  try {
    length = list.length;
  } catch (cause) {
    throw new InvalidOptionsError(`${option}.length could not be read: ${describeCause(cause)}`, { option, cause });
  }
  // A proxy of an array may answer anything.
  if (!(typeof length === 'number' && Number.isSafeInteger(length) && length >= 0)) {
    throw new InvalidOptionsError(`${option}.length must be a whole number >= 0 (got ${quoteValue(length)}).`, { option });
  }
  return length;
}

/** `Array.isArray(value)`; a revoked proxy (which makes it throw) is an `InvalidOptionsError` naming `option`. */
export function isList(value: unknown, option: string): value is readonly unknown[] {
  try {
    return Array.isArray(value);
  } catch (cause) {
    throw new InvalidOptionsError(`${option} could not be read: ${describeCause(cause)}`, { option, cause });
  }
}

/** `list[index]`, read once; a getter or proxy trap that throws is an `InvalidOptionsError` naming the item. */
export function listItem(list: readonly unknown[], index: number, option: string): unknown {
  try {
    return list[index];
  } catch (cause) {
    throw new InvalidOptionsError(`${option}[${index}] could not be read: ${describeCause(cause)}`, { option: `${option}[${index}]`, cause });
  }
}

/** A plain copy of the array `list`, each read once ({@link listLength}, {@link listItem}), of at most {@link MAX_OPTION_LIST} items. */
export function ownList(list: readonly unknown[], option: string): unknown[] {
  const length = listLength(list, option);
  if (length > MAX_OPTION_LIST) throw new InvalidOptionsError(`${option} holds ${length} items; at most ${MAX_OPTION_LIST} are allowed.`, { option });
  return Array.from({ length }, (_, i) => listItem(list, i, option));
}
