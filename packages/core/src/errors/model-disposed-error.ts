import { WeftError, hasCode } from './weft-error.js';

/**
 * The model was disposed: before a request started, or while it ran (its stream ends with this
 * error at the next step). Load the model again to generate.
 */
export class ModelDisposedError extends WeftError {
  declare readonly code: 'model-disposed';
  constructor(message = 'The model was disposed; load it again to generate.') {
    super('model-disposed', message);
    // A literal, not the class's own name, which a minifier renames (browser bundles).
    if (new.target === ModelDisposedError) this.name = 'ModelDisposedError';
  }

  static override isInstance(error: unknown): error is ModelDisposedError {
    return hasCode(error, 'model-disposed');
  }
}
