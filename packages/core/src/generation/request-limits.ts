import { ContextOverflowError } from '../errors/context-overflow-error.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { describeCause, quoteValue } from '../util/describe-cause.js';
import type { GenerationRequest } from '../spec/request.js';
import { readGuarded, readList, type ListBound } from './read-request.js';

const NO_STOP: readonly string[] = Object.freeze([]);

/**
 * Most rows in one request: prompts, `inputIds` rows or conversations. Each row has its own
 * sampling, stop matching and cache rows, and the graph runs all of them at every step.
 */
export const MAX_BATCH_ROWS = 4096;
/** Most messages in one conversation. */
export const MAX_MESSAGES = 65_536;
/**
 * Most characters and values in all of a request's extra message fields (those besides `role`
 * and `content`, such as `name` or `tool_calls`), counted as the chat template measures values:
 * one per value, plus each string's and key's length. 1 Mi is the smallest value a render may
 * build (see `chatTemplateLimits`), so a template can write out what is allowed here; real extra
 * fields take a few hundred per message. The fields are copied as plain JSON data first (see
 * `copyPlainJson`, which also caps their nesting at 64): @huggingface/jinja would otherwise
 * expand a typed array or a huge list item by item before any limit is checked.
 */
export const MAX_MESSAGE_EXTRAS = 1024 * 1024;
/** Most stop strings in one request. */
export const MAX_STOPS = 4096;
/** Most characters in one stop string (a tokenizer without `addedTokenIds` encodes each once per request, to find the special tokens it holds). */
export const MAX_STOP_LENGTH = 65_536;
/**
 * Most characters in all of a request's stop strings: finding their special tokens is synchronous
 * (encoding them, where the tokenizer does not list its added tokens), and each row's matcher
 * looks at every stop after each token.
 */
export const MAX_STOP_CHARACTERS = 262_144;
/** Most components in one of a request's lists (`processors`, `analyzers`). */
export const MAX_COMPONENTS = 1024;

/** `readList`'s bound on a request's rows (prompts, id lists or conversations). */
export const BATCH_BOUND: ListBound = { max: MAX_BATCH_ROWS, items: 'rows (prompts, id lists or conversations)' };
/** `readList`'s bound on the messages of one conversation. */
export const MESSAGES_BOUND: ListBound = { max: MAX_MESSAGES, items: 'messages' };
/** `readList`'s bound on a request's `processors` or `analyzers`. */
export const COMPONENTS_BOUND: ListBound = { max: MAX_COMPONENTS, items: 'components' };
const STOPS_BOUND: ListBound = { max: MAX_STOPS, items: 'stop strings' };

const badStop = (): InvalidOptionsError => new InvalidOptionsError('stop must be a list of non-empty strings.', { option: 'stop' });

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Throws an `InvalidOptionsError` unless `signal` is undefined or reads as an AbortSignal (a boolean `aborted`). */
export function checkSignal(signal: unknown): void {
  if (signal === undefined) return;
  const aborted = readGuarded('signal.aborted', 'signal', () => (signal as { aborted?: unknown } | null)?.aborted);
  if (typeof aborted !== 'boolean') throw new InvalidOptionsError('signal must be an AbortSignal (e.g. new AbortController().signal).', { option: 'signal' });
}

/**
 * `signal.aborted` as a run reads it at each step boundary (`signal` passed {@link checkSignal}): a
 * getter that throws mid-run is an `InvalidOptionsError` naming `signal`, with the thrown value as
 * its `cause`. No closure: it runs twice a step.
 */
export function isAborted(signal: AbortSignal | undefined): boolean {
  if (signal === undefined) return false;
  try {
    return signal.aborted;
  } catch (cause) {
    throw new InvalidOptionsError(`signal.aborted could not be read: ${describeCause(cause)}`, { option: 'signal', cause });
  }
}

/** Default number of new tokens when a request does not say. */
export const DEFAULT_MAX_TOKENS = 256;

/**
 * Validates `maxTokens`, `stop`, `ignoreEos`, `signal` and `metrics`, and caps new tokens so prompt + output fit the
 * context. A prompt that alone fills the context is an error. `defaultMaxTokens` is what a
 * request without `maxTokens` gets (the model's generation_config default; 256 without one).
 */
export function requestLimits(
  request: GenerationRequest,
  longestPrompt: number,
  contextLength: number,
  defaultMaxTokens: number = DEFAULT_MAX_TOKENS,
): { readonly maxTokens: number; readonly stop: readonly string[]; readonly ignoreEos: boolean } {
  const max = request.maxTokens === undefined ? defaultMaxTokens : request.maxTokens;
  if (!Number.isInteger(max) || max < 1) {
    throw new InvalidOptionsError(`maxTokens must be an integer >= 1 (got ${quoteValue(request.maxTokens)}).`, { option: 'maxTokens' });
  }
  // Each entry read once (a copy: the matcher uses exactly what was checked); a hole is no string.
  // Lengths are checked before anything scans a stop.
  let characters = 0;
  const stop =
    request.stop === undefined
      ? NO_STOP
      : readList(request.stop, 'stop', STOPS_BOUND, (s, i) => {
          if (typeof s !== 'string' || s.length === 0) throw badStop();
          if (s.length > MAX_STOP_LENGTH) {
            throw new InvalidOptionsError(`stop[${i}] has ${s.length} characters; a stop string may have at most ${MAX_STOP_LENGTH}.`, { option: 'stop' });
          }
          characters += s.length;
          if (characters > MAX_STOP_CHARACTERS) {
            throw new InvalidOptionsError(`The stop strings have over ${MAX_STOP_CHARACTERS} characters in all (${characters} up to stop[${i}]); give fewer or shorter ones.`, { option: 'stop' });
          }
          // Half of a character (e.g. of an emoji) would cut the text inside that character.
          if (LONE_SURROGATE.test(s)) {
            throw new InvalidOptionsError(`stop[${i}] holds half of a UTF-16 surrogate pair (part of a character such as an emoji); give whole characters.`, { option: 'stop' });
          }
          return s;
        });
  if (stop === undefined) throw badStop();
  const ignoreEos = request.ignoreEos === undefined ? false : request.ignoreEos;
  if (typeof ignoreEos !== 'boolean') {
    throw new InvalidOptionsError(`ignoreEos must be true or false (got ${quoteValue(request.ignoreEos)}).`, { option: 'ignoreEos' });
  }
  const { signal, metrics } = request;
  checkSignal(signal);
  if (metrics !== undefined && typeof metrics !== 'boolean') {
    throw new InvalidOptionsError(`metrics must be true or false (got ${quoteValue(metrics)}).`, { option: 'metrics' });
  }
  if (longestPrompt >= contextLength) {
    throw new ContextOverflowError(promptTooLong(longestPrompt, contextLength), { promptTokens: longestPrompt, contextLength });
  }
  return { maxTokens: Math.min(max, contextLength - longestPrompt), stop, ignoreEos };
}

/**
 * Why a prompt of `length` tokens cannot be generated from in a context of `contextLength` (it
 * must leave one position for the first new token): a prompt exactly as long as the context
 * reads as fitting unless the message says so.
 */
export function promptTooLong(length: number, contextLength: number): string {
  const room = length === contextLength ? ', which leaves no position for a new token' : '';
  return `The prompt has ${length} tokens but the model's context is ${contextLength}${room} (at most ${contextLength - 1} prompt tokens); shorten the prompt.`;
}
