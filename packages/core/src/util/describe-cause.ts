/** Longest description {@link describeCause} returns, ellipsis included. */
export const MAX_CAUSE_LENGTH = 300;

const UNDESCRIBABLE = 'a value that cannot be described';

/**
 * One line describing any thrown value, for error messages. Never throws: an `Error`-like gives its
 * message, a string itself, anything else `String(value)`; getters, `toString` methods and proxy
 * traps that throw fall back to a generic tag. At most {@link MAX_CAUSE_LENGTH} characters.
 */
export function describeCause(cause: unknown): string {
  return truncate(oneLine(rawDescription(cause)));
}

/** Shortens `text` to `max` characters, ending with an ellipsis when it was cut. Never throws. */
export function truncateText(text: string, max = MAX_CAUSE_LENGTH): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max - 1);
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--; // do not split a surrogate pair
  return `${text.slice(0, end)}…`;
}

function rawDescription(cause: unknown): string {
  if (typeof cause === 'string') return cause;
  if (cause === null || (typeof cause !== 'object' && typeof cause !== 'function')) return safeString(cause);
  const message = errorMessage(cause);
  if (message !== undefined) return message;
  const text = safeString(cause);
  // Only the default tag ("[object Object]", its toString absent or failing) says nothing of the
  // value: say what it is, with its JSON where it has one.
  return DEFAULT_TAG.test(text) ? plainObject(cause) : text;
}

/** What `Object.prototype.toString` gives: `[object Object]`, `[object Map]`… */
const DEFAULT_TAG = /^\[object [^\]]*\]$/;

/** `an object, not an Error ({"code":5})`: a value whose string form is only its tag. Never throws. */
function plainObject(value: object): string {
  const json = attempt(() => JSON.stringify(value));
  return typeof json === 'string' ? `an object, not an Error (${json.length > MAX_CAUSE_LENGTH * 4 ? `${json.slice(0, MAX_CAUSE_LENGTH * 4)}…` : json})` : 'an object, not an Error';
}

/** The message of an Error-like value, or undefined when it has no usable string message. */
function errorMessage(cause: object): string | undefined {
  const isError = attempt(() => cause instanceof Error) === true;
  if (!isError && attempt(() => 'message' in cause) !== true) return undefined;
  const message = attempt(() => (cause as { message?: unknown }).message);
  if (typeof message === 'string' && message !== '') return message;
  if (!isError) return undefined;
  const name = attempt(() => (cause as { name?: unknown }).name);
  return typeof name === 'string' && name !== '' ? name : 'Error';
}

function attempt(read: () => unknown): unknown {
  try {
    return read();
  } catch {
    return undefined;
  }
}

function safeString(value: unknown): string {
  try {
    const text: unknown = String(value);
    if (typeof text === 'string') return text;
  } catch {
    // fall through to the tag
  }
  try {
    return Object.prototype.toString.call(value);
  } catch {
    return UNDESCRIBABLE;
  }
}

function oneLine(text: string): string {
  // Bound the work before normalising whitespace, so a huge string costs no more than a short one.
  const head = text.length > MAX_CAUSE_LENGTH * 4 ? text.slice(0, MAX_CAUSE_LENGTH * 4) + '…' : text;
  const flat = head.replace(/\s+/g, ' ').trim();
  return flat === '' ? '(empty message)' : flat;
}

function truncate(text: string): string {
  return truncateText(text, MAX_CAUSE_LENGTH);
}

/**
 * A short, safe rendering of a value for "got …" in error messages: strings quoted and cut to
 * `max` characters, primitives as written, objects by their type only (no getters, `toString` or
 * `toJSON` run). Never throws.
 */
export function quoteValue(value: unknown, max = 80): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(truncateText(value, max));
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(value);
    case 'bigint':
      return truncateText(`${value.toString()}n`, max);
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
    default:
      if (value === null) return 'null';
      return attempt(() => Array.isArray(value)) === true ? 'an array' : 'an object';
  }
}
