import { WeftError, hasCode } from './weft-error.js';

/** A backend failed to create a session or to run it. */
export class BackendError extends WeftError {
  declare readonly code: 'backend';
  /** Registry name of the backend. */
  readonly backend: string | undefined;

  constructor(message: string, details: { backend?: string; cause?: unknown } = {}) {
    super('backend', message, { cause: details.cause });
    // A literal, not the class's own name, which a minifier renames (browser bundles).
    if (new.target === BackendError) this.name = 'BackendError';
    this.backend = details.backend;
  }

  static override isInstance(error: unknown): error is BackendError {
    return hasCode(error, 'backend');
  }
}
