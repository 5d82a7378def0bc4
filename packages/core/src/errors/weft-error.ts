const MARKER = Symbol.for('@weft/core/WeftError');

/**
 * The `code` of each error class core throws (the table in core's README lists them):
 * `model-load` (`ModelLoadError`), `invalid-options`, `context-overflow`,
 * `adapter-resolution`, `plugin`, `backend`, `model-disposed`, `runtime-disposed`. Each subclass's
 * `code` is typed as its own literal; `WeftError.code` stays a `string`.
 */
export type WeftErrorCode =
  | 'model-load'
  | 'invalid-options'
  | 'context-overflow'
  | 'adapter-resolution'
  | 'plugin'
  | 'backend'
  | 'model-disposed'
  | 'runtime-disposed';

/**
 * Base of every error Weft throws. Recognise errors with `WeftError.isInstance(e)` (or a
 * subclass's `isInstance`), which works across duplicate installed copies of core.
 */
export class WeftError extends Error {
  private readonly [MARKER] = true;
  /**
   * Stable machine-readable code, e.g. `model-load`: one of {@link WeftErrorCode} for core's
   * subclasses (each types it as its literal); a `string` here, so that code outside core may
   * subclass `WeftError` with codes of its own.
   */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    // The class's name (core's own classes set a literal one: a minifier renames classes).
    this.name = new.target === WeftError ? 'WeftError' : new.target.name;
  }

  static isInstance(error: unknown): error is WeftError {
    return typeof error === 'object' && error !== null && MARKER in error;
  }
}

/** Builds the `isInstance` of a subclass from its code. */
export function hasCode(error: unknown, code: string): boolean {
  return WeftError.isInstance(error) && error.code === code;
}
