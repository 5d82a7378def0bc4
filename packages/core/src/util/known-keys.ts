import { InvalidOptionsError } from '../errors/invalid-options-error.js';

/**
 * Throws an `InvalidOptionsError` for the first key of `options` that is not in `known` (a
 * misspelled option would otherwise be ignored), naming `where` and the keys it takes. The error's
 * `option` is `${optionPrefix}.${key}`, or the key alone when the prefix is empty.
 */
export function checkKnownKeys(options: object, known: readonly string[], where: string, optionPrefix = where): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new InvalidOptionsError(`${where} has no option "${key}" (it takes ${known.join(', ')}).`, {
        option: optionPrefix === '' ? key : `${optionPrefix}.${key}`,
      });
    }
  }
}
