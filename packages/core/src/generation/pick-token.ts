import type { LogitsContext, Sampler } from '../spec/logits.js';
import { argmax } from './sampling/argmax.js';
import { applyMinP } from './sampling/min-p.js';
import { sampleCategorical } from './sampling/sample-categorical.js';
import { settleNonFinite } from './sampling/settle-non-finite.js';
import type { SamplingOptions } from './sampling/sampling-options.js';
import { applyTemperature } from './sampling/temperature.js';
import { applyTopK } from './sampling/top-k.js';
import { applyTopP } from './sampling/top-p.js';

/**
 * NaN and +Infinity logits settled, then temperature, top-k, top-p, min-p, then a draw (or argmax
 * when temperature is 0, or the request's own sampler). Runs after repetition penalty and logits processors.
 */
export function pickToken(
  logits: Float32Array,
  options: SamplingOptions,
  random: () => number,
  context: LogitsContext,
  sampler?: Sampler,
): number {
  if (sampler) return sampler.sample(logits, { ...context, random });
  if (options.temperature === 0) return argmax(logits);
  settleNonFinite(logits);
  applyTemperature(logits, options.temperature);
  applyTopK(logits, options.topK);
  applyTopP(logits, options.topP);
  applyMinP(logits, options.minP);
  return sampleCategorical(logits, random());
}
