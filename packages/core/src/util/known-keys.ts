import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { optionKeyLabel } from './own-options.js';

/**
 * Throws an `InvalidOptionsError` for the first key of `options` that is not in `known` (a
 * misspelled option would otherwise be ignored), naming `where` and the keys it takes, and the
 * key meant when it differs only in case or is its snake_case spelling (`max_tokens`). The error's
 * `option` is `${optionPrefix}.${key}`, or the key alone when the prefix is empty.
 */
export function checkKnownKeys(options: object, known: readonly string[], where: string, optionPrefix = where): void {
  checkKeyNames(Object.keys(options), known, where, optionPrefix);
}

/** {@link checkKnownKeys} for keys already read (e.g. once, from an object whose reads may throw). */
export function checkKeyNames(keys: readonly string[], known: readonly string[], where: string, optionPrefix = where): void {
  for (const key of keys) {
    if (!known.includes(key)) {
      const meant = closeKey(key, known);
      // A key of a million characters is quoted shortened, so the message stays one readable line.
      // Its `option` too (a server may echo it back).
      // So is one with control characters (it would break the line, or reach the terminal raw).
      const label = optionKeyLabel(key);
      throw new InvalidOptionsError(`${where} has no option ${label === key ? `"${key}"` : label}${meant === undefined ? '' : `; did you mean "${meant}"?`} (${known.length === 0 ? 'it takes no options' : `it takes ${known.join(', ')}`}).`, {
        option: optionPrefix === '' ? label : `${optionPrefix}.${label}`,
      });
    }
  }
}

/** The known key `key` spells differently: in another case, or in snake_case or kebab-case. */
function closeKey(key: string, known: readonly string[]): string | undefined {
  const plain = (k: string): string => k.replace(/[-_]/g, '').toLowerCase();
  return known.find((k) => plain(k) === plain(key));
}
