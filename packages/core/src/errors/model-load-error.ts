import type { Rejection } from '../spec/registry.js';
import { WeftError, hasCode } from './weft-error.js';

/** A model folder or graph is missing, unreadable, corrupt or inconsistent with its config. */
export class ModelLoadError extends WeftError {
  declare readonly code: 'model-load';
  /** The file or folder at fault. */
  readonly path: string | undefined;
  /**
   * When every backend tried under `backend: 'auto'` failed to open the graph: each backend passed
   * over, with the reason (those whose session failed, and those passed over before, e.g. an
   * unavailable probe), as `model.rejectedBackends` would list them. Undefined for other load errors.
   */
  readonly rejectedBackends: readonly Rejection[] | undefined;

  constructor(message: string, details: { path?: string; cause?: unknown; rejectedBackends?: readonly Rejection[] } = {}) {
    super('model-load', message, { cause: details.cause });
    // A literal, not the class's own name, which a minifier renames (browser bundles).
    if (new.target === ModelLoadError) this.name = 'ModelLoadError';
    this.path = details.path;
    this.rejectedBackends = details.rejectedBackends;
  }

  static override isInstance(error: unknown): error is ModelLoadError {
    return hasCode(error, 'model-load');
  }
}
