import { WeftError, hasCode } from './weft-error.js';

/** An option or request field has an invalid value. */
export class InvalidOptionsError extends WeftError {
  declare readonly code: 'invalid-options';
  /** The offending option, e.g. `topP`. */
  readonly option: string | undefined;

  constructor(message: string, details: { option?: string; cause?: unknown } = {}) {
    super('invalid-options', message, { cause: details.cause });
    // A literal, not the class's own name, which a minifier renames (browser bundles).
    if (new.target === InvalidOptionsError) this.name = 'InvalidOptionsError';
    this.option = details.option;
  }

  static override isInstance(error: unknown): error is InvalidOptionsError {
    return hasCode(error, 'invalid-options');
  }
}
