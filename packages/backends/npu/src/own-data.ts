import { describeCause, InvalidOptionsError } from '@weft/core';

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
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
