import type { GenerationConfig, GenerationRequest } from '@weft/core';

/** The filters that apply only when tokens are sampled, with their flags. */
const FILTERS = [
  ['topK', '--top-k'],
  ['topP', '--top-p'],
  ['minP', '--min-p'],
] as const;

/**
 * A note for stderr when `--top-k`, `--top-p` or `--min-p` is given but the request decodes
 * greedily, so they change nothing: `--temperature 0`, or no `--temperature` on a model whose
 * generation_config.json does not sample (`do_sample` off, or a temperature of 0). Undefined when
 * they apply, when none is given, or with a `--sampler` (which core refuses them beside).
 */
export function samplingNote(request: GenerationRequest, defaults: Pick<GenerationConfig, 'doSample' | 'temperature'>): string | undefined {
  if (request.sampler !== undefined) return undefined;
  // `--top-k 0` turns top-k off: nothing to note.
  const given = FILTERS.filter(([field]) => request[field] !== undefined && !(field === 'topK' && request.topK === 0)).map(([, flag]) => flag);
  if (given.length === 0) return undefined;
  const flags = given.length === 1 ? `${given[0]} has` : `${given.slice(0, -1).join(', ')} and ${given.at(-1)} have`;
  if (request.temperature === 0) return `weft: note: ${flags} no effect with --temperature 0 (greedy decoding)`;
  const modelSamples = defaults.doSample && (defaults.temperature ?? 1) > 0;
  if (request.temperature !== undefined || modelSamples) return undefined;
  return `weft: note: ${flags} no effect without --temperature > 0 (greedy decoding); the model's generation_config.json does not sample, so add --temperature T (e.g. --temperature 0.8) to sample`;
}
