const MARKER = Symbol.for('@weft/core/WeftError');

/**
 * Base of every error Weft throws. Recognise errors with `WeftError.isInstance(e)` (or a
 * subclass's `isInstance`), which works across duplicate installed copies of core.
 */
export class WeftError extends Error {
  private readonly [MARKER] = true;
  /** Stable machine-readable code, e.g. `model-load`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }

  static isInstance(error: unknown): error is WeftError {
    return typeof error === 'object' && error !== null && MARKER in error;
  }
}

/** Builds the `isInstance` of a subclass from its code. */
export function hasCode(error: unknown, code: string): boolean {
  return WeftError.isInstance(error) && error.code === code;
}
