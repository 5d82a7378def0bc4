import { WeftError, hasCode } from './weft-error.js';

/** The prompt does not fit the model's context (`max_position_embeddings`). */
export class ContextOverflowError extends WeftError {
  declare readonly code: 'context-overflow';
  readonly promptTokens: number;
  readonly contextLength: number;

  constructor(message: string, details: { promptTokens: number; contextLength: number; cause?: unknown }) {
    super('context-overflow', message, { cause: details.cause });
    // A literal, not the class's own name, which a minifier renames (browser bundles).
    if (new.target === ContextOverflowError) this.name = 'ContextOverflowError';
    this.promptTokens = details.promptTokens;
    this.contextLength = details.contextLength;
  }

  static override isInstance(error: unknown): error is ContextOverflowError {
    return hasCode(error, 'context-overflow');
  }
}
