import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { WeftError } from '../errors/weft-error.js';
import { describeCause, quoteValue } from '../util/describe-cause.js';
import { checkKeyNames } from '../util/known-keys.js';

/**
 * Reads a request object once, at the start of its run: its keys (an unknown one, such as a
 * misspelled `max_tokens`, is an `InvalidOptionsError`), then each field it may have, into a plain
 * object the run uses from then on. A getter or proxy trap runs once per field, so a value cannot
 * change under the checks, and one that throws is an `InvalidOptionsError` naming the field (with
 * the thrown value as its `cause`) instead of a stray error from deep inside the run. Fields are
 * read as `request[key]`, inherited ones included, as before; undefined ones are left out.
 *
 * `where` names the request in messages (`the generation request`); `notObject` is the error for
 * a request that is not an object (or is a list).
 */
export function readRequest<T extends object>(request: unknown, keys: readonly (keyof T & string)[], where: string, notObject: () => InvalidOptionsError): Partial<T> {
  if (typeof request !== 'object' || request === null || isList(request)) throw notObject();
  let own: string[];
  try {
    own = Object.keys(request);
  } catch (cause) {
    throw new InvalidOptionsError(`The keys of ${where} could not be read: ${describeCause(cause)}`, { option: 'request', cause });
  }
  // First: a misspelled option (`max_tokens`) would otherwise be ignored without a word.
  checkKeyNames(own, keys, where, '');
  const fields: Record<string, unknown> = {};
  for (const key of keys) {
    let value: unknown;
    try {
      value = (request as Record<string, unknown>)[key];
    } catch (cause) {
      throw unreadable(key, key, cause);
    }
    if (value !== undefined) fields[key] = value;
  }
  return fields as Partial<T>;
}

/**
 * The items of a request's list, each read once and passed through `item` (which checks it and
 * may throw), or undefined when `value` is not an array. Reading stops at the first item `item`
 * refuses, so a huge sparse array fails at its first hole instead of being copied. A length or an
 * item whose read throws (a getter, a proxy trap) is an `InvalidOptionsError` naming `option`, and
 * so is a length over `bound.max`, refused before any item is read.
 */
export function readList<T>(value: unknown, option: string, bound: ListBound, item: (value: unknown, index: number) => T, peeked?: Peeked): T[] | undefined {
  if (peeked === undefined && !isArray(value, option)) return undefined;
  const list = value as readonly unknown[];
  const length = peeked?.length ?? readLength(list, option);
  // Before any item is read: a list (or a proxy) claiming 2**32 - 1 items would otherwise be copied
  // item by item until the process ran out of memory.
  if (length > bound.max) {
    throw new InvalidOptionsError(`${option} holds ${length} ${bound.items}; at most ${bound.max} are allowed in one request.`, { option });
  }
  const items: T[] = [];
  for (let i = 0; i < length; i++) items.push(item(i === 0 && peeked !== undefined ? peeked.first : readItem(list, i, option), i));
  return items;
}

/** The most items a request's list may hold, and what they are called in the error (`stop strings`). */
export interface ListBound {
  readonly max: number;
  readonly items: string;
}

/** A list's length and first item, read once (see {@link peekList}). */
export interface Peeked {
  readonly length: number;
  /** Undefined for an empty list. */
  readonly first: unknown;
}

/**
 * The length and first item of an array (one read each), for requests whose first item tells the
 * list's shape (a batch of rows, or one row); pass them on to {@link readList}, which then reads
 * neither again. Undefined when `value` is not an array.
 */
export function peekList(value: unknown, option: string): Peeked | undefined {
  if (!isArray(value, option)) return undefined;
  const list = value as readonly unknown[];
  const length = readLength(list, option);
  return { length, first: length > 0 ? readItem(list, 0, option) : undefined };
}

/**
 * `value.length` read once (a getter or proxy trap that throws is an `InvalidOptionsError` naming
 * `option`, and so is a length that is not a whole number >= 0, which only a proxy can give).
 */
export function readLength(value: ArrayLike<unknown>, option: string): number {
  let length: unknown;
  try {
    length = value.length;
  } catch (cause) {
    throw unreadable(`${option}.length`, option, cause);
  }
  if (!(typeof length === 'number' && Number.isSafeInteger(length) && length >= 0)) {
    throw new InvalidOptionsError(`${option}.length must be a whole number >= 0 (got ${quoteValue(length)}).`, { option });
  }
  return length;
}

/** `value[index]` read once (a getter or proxy trap that throws is an `InvalidOptionsError` naming `option`). */
export function readItem(value: ArrayLike<unknown>, index: number, option: string): unknown {
  try {
    return value[index];
  } catch (cause) {
    throw unreadable(`${option}[${index}]`, option, cause);
  }
}

/**
 * Runs `read` (code that inspects a value of the request: property reads, `in`, `for…in`) and
 * turns anything but a Weft error it throws into an `InvalidOptionsError` saying `what` could
 * not be read.
 */
export function readGuarded<T>(what: string, option: string, read: () => T): T {
  try {
    return read();
  } catch (cause) {
    if (WeftError.isInstance(cause)) throw cause;
    throw unreadable(what, option, cause);
  }
}

/** Whether `value` is an array; a revoked proxy (whose check throws) is an `InvalidOptionsError`. */
export function isArray(value: unknown, option: string): boolean {
  try {
    return Array.isArray(value);
  } catch (cause) {
    throw unreadable(option, option, cause);
  }
}

/** An array or a typed array: a list, not a request object. */
function isList(value: object): boolean {
  try {
    return Array.isArray(value) || ArrayBuffer.isView(value);
  } catch {
    return false; // a revoked proxy: its keys fail to read below
  }
}

function unreadable(what: string, option: string, cause: unknown): InvalidOptionsError {
  return new InvalidOptionsError(`${what} could not be read: ${describeCause(cause)}`, { option, cause });
}
