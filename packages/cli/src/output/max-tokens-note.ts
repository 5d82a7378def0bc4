/**
 * The stderr note for a `--max-tokens` the context cannot hold (core caps new tokens so the prompt
 * and the output fit the model's `max_position_embeddings`), or `undefined` when it fits or the
 * flag was not given (the default is documented as capped).
 */
export function maxTokensNote(requested: number | undefined, promptTokens: number, contextLength: number): string | undefined {
  if (requested === undefined) return undefined;
  const room = contextLength - promptTokens;
  if (requested <= room) return undefined;
  return `weft: note: --max-tokens ${requested} is more than the context leaves, so it is capped to ${room} (the prompt takes ${promptTokens} of the model's ${contextLength} positions)`;
}
