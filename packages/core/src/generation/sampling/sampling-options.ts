import { InvalidOptionsError } from '../../errors/invalid-options-error.js';
import { quoteValue } from '../../util/describe-cause.js';
import type { GenerationConfig } from '../../model/generation-config.js';
import type { GenerationRequest } from '../../spec/request.js';

/** Resolved sampling parameters of one request. */
export interface SamplingOptions {
  /** 0 means greedy. */
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  readonly minP: number;
  readonly repetitionPenalty: number;
  readonly seed: number;
}

/** transformers' GenerationConfig default for `top_k`: sampling uses it when neither the request nor generation_config.json gives one. */
const DEFAULT_TOP_K = 50;

/**
 * Validates the request's sampling fields and fills defaults from generation_config.json (`topK`
 * falls back to transformers' 50). With a request `sampler`, `temperature`, `topK`, `topP` and
 * `minP` are refused: the sampler replaces them.
 */
export function resolveSamplingOptions(request: GenerationRequest, defaults: GenerationConfig): SamplingOptions {
  // Plain conditions rather than a table of closures: this runs once per request, cold, on the
  // path to the first token, and most requests set one or two of these fields.
  const { temperature, topK, topP, minP, repetitionPenalty, seed } = request;
  if (temperature !== undefined && !(isNumber(temperature) && temperature >= 0)) invalid('temperature', temperature, 'a finite number >= 0 (0 = greedy)');
  if (topK !== undefined && !(isNumber(topK) && Number.isInteger(topK) && topK >= 0)) invalid('topK', topK, 'an integer >= 0 (0 = off)');
  if (topP !== undefined && !(isNumber(topP) && topP >= 0 && topP <= 1)) invalid('topP', topP, 'in [0, 1] (0 keeps only the most likely token)');
  if (minP !== undefined && !(isNumber(minP) && minP >= 0 && minP <= 1)) invalid('minP', minP, 'in [0, 1] (1 keeps only the most likely tokens)');
  if (repetitionPenalty !== undefined && !(isNumber(repetitionPenalty) && repetitionPenalty > 0)) invalid('repetitionPenalty', repetitionPenalty, 'a finite number > 0 (1 = off)');
  if (seed !== undefined && !Number.isSafeInteger(seed)) invalid('seed', seed, `an integer within ±${Number.MAX_SAFE_INTEGER}`);
  // (A null sampler is not one: resolving it reports what a sampler must be.)
  if (request.sampler !== undefined && request.sampler !== null) {
    // A request's sampler replaces core's draw, so these would be ignored without a word.
    const ignored = temperature !== undefined ? 'temperature' : topK !== undefined ? 'topK' : topP !== undefined ? 'topP' : minP !== undefined ? 'minP' : undefined;
    if (ignored !== undefined) {
      throw new InvalidOptionsError(
        `${ignored} does not apply with a sampler: the request's sampler replaces core's temperature, topK, topP and minP. Leave ${ignored} out, or pass what the sampler needs in its options.`,
        { option: ignored },
      );
    }
  }
  return {
    // generation_config's do_sample decides only whether a request without a temperature samples;
    // its top_k, top_p and min_p apply to every sampled request, as transformers' generate applies
    // them whenever do_sample is on (top_k absent there means 50).
    temperature: temperature ?? (defaults.doSample ? (defaults.temperature ?? 1) : 0),
    topK: topK ?? defaults.topK ?? DEFAULT_TOP_K,
    topP: topP ?? defaults.topP ?? 1,
    minP: minP ?? defaults.minP ?? 0,
    repetitionPenalty: repetitionPenalty ?? defaults.repetitionPenalty ?? 1,
    seed: seed ?? Math.floor(Math.random() * 2 ** 31),
  };
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function invalid(option: keyof GenerationRequest, value: unknown, rule: string): never {
  throw new InvalidOptionsError(`${option} must be ${rule} (got ${quoteValue(value)}).`, { option });
}
