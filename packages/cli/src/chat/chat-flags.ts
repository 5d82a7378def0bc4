import { GENERATE_FLAGS } from '../errors.js';

/**
 * The flag of `weft chat` that sets each request or load option core names in an error: those of
 * `generate` but the prompt's, which come from standard input (a line) or `--system`.
 */
export const CHAT_FLAGS: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(GENERATE_FLAGS).filter(([field]) => field !== 'prompt' && field !== 'inputIds' && field !== 'messages'),
);
