import { InvalidOptionsError } from '../../errors/invalid-options-error.js';
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

/** Validates the request's sampling fields and fills defaults from generation_config.json. */
export function resolveSamplingOptions(request: GenerationRequest, defaults: GenerationConfig): SamplingOptions {
  const check = (option: keyof GenerationRequest, value: number | undefined, ok: (v: number) => boolean, rule: string): void => {
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || !ok(value))) {
      throw new InvalidOptionsError(`${option} must be ${rule} (got ${String(value)}).`, { option });
    }
  };
  check('temperature', request.temperature, (v) => v >= 0, 'a number >= 0 (0 = greedy)');
  check('topK', request.topK, (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0 (0 = off)');
  check('topP', request.topP, (v) => v > 0 && v <= 1, 'in (0, 1]');
  check('minP', request.minP, (v) => v >= 0 && v < 1, 'in [0, 1)');
  check('repetitionPenalty', request.repetitionPenalty, (v) => v > 0, 'a number > 0 (1 = off)');
  check('seed', request.seed, (v) => Number.isInteger(v), 'an integer');
  const sampleByDefault = defaults.doSample ? (defaults.temperature ?? 1) : 0;
  return {
    temperature: request.temperature ?? sampleByDefault,
    topK: request.topK ?? (defaults.doSample ? (defaults.topK ?? 0) : 0),
    topP: request.topP ?? (defaults.doSample ? (defaults.topP ?? 1) : 1),
    minP: request.minP ?? 0,
    repetitionPenalty: request.repetitionPenalty ?? defaults.repetitionPenalty ?? 1,
    seed: request.seed ?? Math.floor(Math.random() * 2 ** 31),
  };
}
