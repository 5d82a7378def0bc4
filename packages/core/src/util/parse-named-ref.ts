import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import type { NamedRef } from '../spec/request.js';

const NUMERIC = /^[-+]?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?$/i;

/**
 * Parses `NAME[:key=value,…]` (as in `--kv int4:group=32` or `--router sink-window:sinks=4,window=256`)
 * into a registry reference for a request's `kv` or `router`. Whitespace around names, keys and
 * values is ignored; values that look numeric become numbers (unless a double cannot hold them:
 * `1e400` and `1e-400` stay text, so the adapter quotes what was typed rather than `Infinity` or
 * accepting 0), `true`/`false` booleans, the rest stay strings (each adapter validates its own options). Throws `InvalidOptionsError` naming
 * `option` on a malformed spec.
 *
 * @example parseNamedRef('int4:group=32') // { name: 'int4', options: { group: 32 } }
 */
export function parseNamedRef(spec: string, option = 'spec'): Exclude<NamedRef, string> {
  if (typeof spec !== 'string') throw new InvalidOptionsError(`${option}: expected a string such as "int4:group=32".`, { option });
  const [rawName, rest] = splitOnce(spec, ':');
  const name = rawName.trim();
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(name)) {
    throw new InvalidOptionsError(`${option}: "${spec}" must look like NAME or NAME:key=value,… (e.g. int4:group=32).`, { option });
  }
  const options: Record<string, unknown> = {};
  const body = rest?.trim() ?? '';
  for (const pair of body === '' ? [] : body.split(',')) {
    const [rawKey, rawValue] = splitOnce(pair, '=');
    const key = rawKey.trim();
    const value = rawValue?.trim();
    if (key && value === '') throw new InvalidOptionsError(`${option}: "${key}" in "${spec}" has no value; write ${key}=VALUE.`, { option });
    if (!key || value === undefined) {
      // A bare item after key=value is most often the rest of a list (`words=a,b`): say how lists go.
      const list = key && value === undefined && Object.keys(options).length > 0 ? '; a value is one number or string, never a list (several values go in one string, for a component that splits it)' : '';
      throw new InvalidOptionsError(`${option}: "${pair.trim()}" in "${spec}" must be key=value${list}.`, { option });
    }
    if (Object.hasOwn(options, key)) throw new InvalidOptionsError(`${option}: "${key}" is given twice in "${spec}".`, { option });
    // Defined, not assigned: `__proto__=1` must become an own key (which the adapter then rejects
    // as unknown), not a prototype change that drops it silently.
    Object.defineProperty(options, key, {
      value: NUMERIC.test(value) ? numberOrText(value) : value === 'true' ? true : value === 'false' ? false : value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return Object.keys(options).length > 0 ? { name, options } : { name };
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

/** `text` (numeric) as a number, or as it is when a double would make it ±Infinity or 0 from non-zero digits. */
function numberOrText(text: string): number | string {
  const value = Number(text);
  if (!Number.isFinite(value)) return text;
  if (value === 0 && /[1-9]/.test(text.split(/e/i)[0]!)) return text;
  return value;
}
