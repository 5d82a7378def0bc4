import { ContextOverflowError } from '../errors/context-overflow-error.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { quoteValue } from '../util/describe-cause.js';
import type { GenerationRequest } from '../spec/request.js';

const NO_STOP: readonly string[] = Object.freeze([]);

const badStop = (): InvalidOptionsError => new InvalidOptionsError('stop must be a list of non-empty strings.', { option: 'stop' });

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Default number of new tokens when a request does not say. */
export const DEFAULT_MAX_TOKENS = 256;

/**
 * Validates `maxTokens`, `stop`, `ignoreEos`, `signal` and `metrics`, and caps new tokens so prompt + output fit the
 * context. A prompt that alone fills the context is an error.
 */
export function requestLimits(
  request: GenerationRequest,
  longestPrompt: number,
  contextLength: number,
): { readonly maxTokens: number; readonly stop: readonly string[]; readonly ignoreEos: boolean } {
  const max = request.maxTokens === undefined ? DEFAULT_MAX_TOKENS : request.maxTokens;
  if (!Number.isInteger(max) || max < 1) {
    throw new InvalidOptionsError(`maxTokens must be an integer >= 1 (got ${quoteValue(request.maxTokens)}).`, { option: 'maxTokens' });
  }
  const stop = request.stop === undefined ? NO_STOP : request.stop;
  if (!Array.isArray(stop)) throw badStop();
  for (let i = 0; i < stop.length; i++) {
    const s: unknown = stop[i];
    if (typeof s !== 'string' || s.length === 0) throw badStop();
    // Half of a character (e.g. of an emoji) would cut the text inside that character.
    if (LONE_SURROGATE.test(s)) {
      throw new InvalidOptionsError(`stop[${i}] holds half of a UTF-16 surrogate pair (part of a character such as an emoji); give whole characters.`, { option: 'stop' });
    }
  }
  const ignoreEos = request.ignoreEos === undefined ? false : request.ignoreEos;
  if (typeof ignoreEos !== 'boolean') {
    throw new InvalidOptionsError(`ignoreEos must be true or false (got ${quoteValue(request.ignoreEos)}).`, { option: 'ignoreEos' });
  }
  const { signal, metrics } = request;
  if (signal !== undefined && typeof (signal as { aborted?: unknown } | null)?.aborted !== 'boolean') {
    throw new InvalidOptionsError('signal must be an AbortSignal (e.g. new AbortController().signal).', { option: 'signal' });
  }
  if (metrics !== undefined && typeof metrics !== 'boolean') {
    throw new InvalidOptionsError(`metrics must be true or false (got ${quoteValue(metrics)}).`, { option: 'metrics' });
  }
  if (longestPrompt >= contextLength) {
    throw new ContextOverflowError(
      `The prompt has ${longestPrompt} tokens but the model's context is ${contextLength}; shorten the prompt.`,
      { promptTokens: longestPrompt, contextLength },
    );
  }
  return { maxTokens: Math.min(max, contextLength - longestPrompt), stop, ignoreEos };
}
