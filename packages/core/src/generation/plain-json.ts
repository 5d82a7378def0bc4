import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { quoteValue } from '../util/describe-cause.js';
import { isArray, readGuarded, readLength } from './read-request.js';

/** Deepest nesting {@link copyPlainJson} copies (chat messages and tool schemas nest about ten deep). */
export const MAX_PLAIN_JSON_DEPTH = 64;

/**
 * What one request (or one render) may still copy, shared by every {@link copyPlainJson} call on
 * it: `left` units, each value costing one, plus a string's or key's length where `chars` is true.
 */
export interface PlainJsonBudget {
  left: number;
  /** The budget as given, for messages. */
  readonly max: number;
  /** Whether string and key lengths count (else a string is one unit, like a number). */
  readonly chars: boolean;
  /** What is being copied, plural and lowercase, for messages: `the messages' extra fields`. */
  readonly what: string;
  /** Deepest nesting allowed (at most {@link MAX_PLAIN_JSON_DEPTH}). */
  readonly depth: number;
  /** Most items one list may hold. */
  readonly listItems: number;
}

/**
 * A budget of `max` units for copying `what`; `limits` may lower the nesting allowed and bound
 * each list's length (for data that is copied again inside a larger value, whose limits it must
 * meet there too).
 */
export function plainJsonBudget(max: number, what: string, chars = true, limits: { readonly depth?: number; readonly listItems?: number } = {}): PlainJsonBudget {
  return { left: max, max, chars, what, depth: Math.min(limits.depth ?? MAX_PLAIN_JSON_DEPTH, MAX_PLAIN_JSON_DEPTH), listItems: limits.listItems ?? Infinity };
}

/**
 * A copy of `value` as plain JSON data: strings, finite numbers, booleans, null, arrays and plain
 * objects (prototype `Object.prototype` or null), every property and item read once and guarded
 * (a getter or proxy trap that throws is an `InvalidOptionsError` naming its path). Undefined
 * object properties are left out, as JSON leaves them out. Anything else (typed arrays, Buffers,
 * Maps, Sets, Dates, class instances, functions, BigInts, symbols, NaN and Infinity, holes and
 * undefined items), a cycle, nesting past {@link MAX_PLAIN_JSON_DEPTH} and going over `budget` are
 * `InvalidOptionsError`s whose `option` is the path (`messages[0].embedding`). The copy is what a
 * template engine may safely expand: @huggingface/jinja converts every item of an array (a typed
 * array too) into an object of its own before any limit is checked.
 */
export function copyPlainJson(value: unknown, path: string, budget: PlainJsonBudget, container?: object): unknown {
  // The object `value` was read from (a message) counts as one that contains it, for cycles.
  return copyValue(value, path, budget, 0, new Set(container === undefined ? [] : [container]));
}

function copyValue(value: unknown, path: string, budget: PlainJsonBudget, depth: number, ancestors: Set<object>): unknown {
  switch (typeof value) {
    case 'string':
      chargePlainJson(budget, budget.chars ? 1 + value.length : 1, path);
      return value;
    case 'boolean':
      chargePlainJson(budget, 1, path);
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw notPlain(path, `${value}`, 'NaN and Infinity have no JSON form: give a finite number, null or a string');
      chargePlainJson(budget, 1, path);
      return value;
    case 'bigint':
      throw notPlain(path, `a BigInt (${quoteValue(value)})`, 'give a number or a string');
    case 'symbol':
      throw notPlain(path, 'a symbol', 'leave it out');
    case 'function':
      throw notPlain(path, 'a function', 'leave it out');
    case 'undefined':
      throw notPlain(path, 'undefined (or a hole in an array)', 'give null or leave the item out');
  }
  if (value === null) {
    chargePlainJson(budget, 1, path);
    return null;
  }
  const object = value as object;
  if (ancestors.has(object)) {
    throw new InvalidOptionsError(`${path} refers back to an object that contains it (a cycle); ${budget.what} must be plain JSON data: remove the cycle.`, { option: path });
  }
  if (depth >= budget.depth) {
    throw new InvalidOptionsError(`${path} is nested more than ${budget.depth} deep; ${budget.what} may nest at most ${budget.depth} lists and objects: flatten it.`, { option: path });
  }
  ancestors.add(object);
  const copy = isArray(object, path) ? copyArray(object as readonly unknown[], path, budget, depth, ancestors) : copyObject(object, path, budget, depth, ancestors);
  ancestors.delete(object);
  return copy;
}

function copyArray(list: readonly unknown[], path: string, budget: PlainJsonBudget, depth: number, ancestors: Set<object>): unknown[] {
  const length = readLength(list, path);
  // Each item is charged as it is copied (at least one unit): a list longer than what is left fails
  // here, before its first item is read, so a huge (or sparse) array costs nothing.
  chargePlainJson(budget, 1, path);
  if (length > budget.left) chargePlainJson(budget, length, path);
  if (length > budget.listItems) {
    throw new InvalidOptionsError(`${path} holds ${length} items; a list in ${budget.what} may hold at most ${budget.listItems}.`, { option: path });
  }
  const copy = new Array<unknown>(length);
  for (let i = 0; i < length; i++) {
    const itemPath = `${path}[${i}]`;
    copy[i] = copyValue(readGuarded(itemPath, itemPath, () => list[i]), itemPath, budget, depth + 1, ancestors);
  }
  return copy;
}

function copyObject(object: object, path: string, budget: PlainJsonBudget, depth: number, ancestors: Set<object>): Record<string, unknown> {
  const prototype = readGuarded(path, path, () => Object.getPrototypeOf(object) as unknown);
  if (prototype !== Object.prototype && prototype !== null) throw notPlain(path, describeObject(object), fixFor(object));
  const keys = readGuarded(`The keys of ${path}`, path, () => Object.keys(object));
  chargePlainJson(budget, 1 + keys.length, path);
  const entries: [string, unknown][] = [];
  for (const key of keys) {
    if (budget.chars) chargePlainJson(budget, key.length, path);
    const keyPath = `${path}${propertyPath(key)}`;
    const item = readGuarded(keyPath, keyPath, () => (object as Record<string, unknown>)[key]);
    if (item !== undefined) entries.push([key, copyValue(item, keyPath, budget, depth + 1, ancestors)]);
  }
  // fromEntries defines each key as an own property (a "__proto__" key too).
  return Object.fromEntries(entries);
}

/** `.name` for identifier-like keys, else `["a key"]` (cut to 40 characters). */
export function propertyPath(key: string): string {
  return key.length <= 40 && /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${quoteValue(key, 40)}]`;
}

/** Takes `units` from `budget` for what is at `path`; an `InvalidOptionsError` naming `path` once it is spent. */
export function chargePlainJson(budget: PlainJsonBudget, units: number, path: string): void {
  budget.left -= units;
  if (budget.left < 0) {
    throw new InvalidOptionsError(
      `${budget.what.charAt(0).toUpperCase()}${budget.what.slice(1)} hold over ${budget.max} ${budget.chars ? 'characters and values' : 'values'} in all (the limit was passed at ${path}); leave large data such as embeddings or files out of them.`,
      { option: path },
    );
  }
}

function notPlain(path: string, what: string, fix: string): InvalidOptionsError {
  return new InvalidOptionsError(
    `${path} is ${what}; it must be plain JSON data (strings, finite numbers, booleans, null, arrays and plain objects): ${fix}.`,
    { option: path },
  );
}

/** `a Float32Array`, `a Map`, `an instance of Point`: the class of an object that is not plain. Never throws. */
function describeObject(object: object): string {
  const name = constructorName(object);
  return name === undefined ? 'an object that is not a plain object' : `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}`;
}

function constructorName(object: object): string | undefined {
  try {
    if (ArrayBuffer.isView(object)) return Object.prototype.toString.call(object).slice(8, -1) === 'Uint8Array' && isBuffer(object) ? 'Buffer' : Object.prototype.toString.call(object).slice(8, -1);
    const name: unknown = (object as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === 'string' && name !== '' ? name : undefined;
  } catch {
    return undefined;
  }
}

function isBuffer(object: object): boolean {
  const buffer = (globalThis as { Buffer?: { isBuffer?: (value: unknown) => boolean } }).Buffer;
  return typeof buffer?.isBuffer === 'function' && buffer.isBuffer(object);
}

/** How to turn a non-plain object into plain data. */
function fixFor(object: object): string {
  let kind: 'binary' | 'map' | 'set' | 'date' | 'other' = 'other';
  try {
    if (ArrayBuffer.isView(object) || object instanceof ArrayBuffer) kind = 'binary';
    else if (object instanceof Map) kind = 'map';
    else if (object instanceof Set) kind = 'set';
    else if (object instanceof Date) kind = 'date';
  } catch {
    // a proxy whose traps throw: the generic advice
  }
  switch (kind) {
    case 'binary':
      return 'leave binary data such as embeddings out of the message, or convert it with Array.from() if the template reads it';
    case 'map':
      return 'use a plain object (Object.fromEntries(map))';
    case 'set':
      return 'use an array ([...set])';
    case 'date':
      return 'use a string (date.toISOString())';
    default:
      return 'copy the fields the template reads into a plain object';
  }
}
