import { WeftError, hasCode } from './weft-error.js';

/** A model folder or graph is missing, unreadable, corrupt or inconsistent with its config. */
export class ModelLoadError extends WeftError {
  declare readonly code: 'model-load';
  /** The file or folder at fault. */
  readonly path: string | undefined;

  constructor(message: string, details: { path?: string; cause?: unknown } = {}) {
    super('model-load', message, { cause: details.cause });
    // A literal, not the class's own name, which a minifier renames (browser bundles).
    if (new.target === ModelLoadError) this.name = 'ModelLoadError';
    this.path = details.path;
  }

  static override isInstance(error: unknown): error is ModelLoadError {
    return hasCode(error, 'model-load');
  }
}
