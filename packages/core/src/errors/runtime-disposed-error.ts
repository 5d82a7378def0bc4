import { WeftError, hasCode } from './weft-error.js';

/**
 * The runtime was disposed: `load`, `use` or `get` was called after `weft.dispose()`, or a load
 * was still in flight when it was called. Create a new runtime with `createWeft()`.
 */
export class RuntimeDisposedError extends WeftError {
  declare readonly code: 'runtime-disposed';
  constructor(message = 'This Weft runtime was disposed; create a new one with createWeft().', options: { cause?: unknown } = {}) {
    super('runtime-disposed', message, options);
    // A literal, not the class's own name, which a minifier renames (browser bundles).
    if (new.target === RuntimeDisposedError) this.name = 'RuntimeDisposedError';
  }

  static override isInstance(error: unknown): error is RuntimeDisposedError {
    return hasCode(error, 'runtime-disposed');
  }
}
