import { ModelLoadError } from '../errors/model-load-error.js';
import { quoteValue } from '../util/describe-cause.js';
import { idList, type ModelConfig } from './model-config.js';

/** Defaults from `generation_config.json` (falling back to `config.json`). */
export interface GenerationConfig {
  readonly eosTokenIds: readonly number[];
  readonly bosTokenId: number | undefined;
  readonly padTokenId: number;
  readonly doSample: boolean;
  readonly temperature: number | undefined;
  readonly topK: number | undefined;
  readonly topP: number | undefined;
  readonly repetitionPenalty: number | undefined;
  readonly raw: Readonly<Record<string, unknown>>;
}

/**
 * Reads `generation_config.json` (an absent file is `{}`), checking every value Weft uses: a
 * sampling default or token id that is out of range is a `ModelLoadError` at load, not a garbage
 * or endless generation later. Ids must be in the vocabulary, whichever file gives them.
 */
export function parseGenerationConfig(raw: unknown, config: ModelConfig): GenerationConfig {
  if (raw !== undefined && (typeof raw !== 'object' || raw === null || Array.isArray(raw))) {
    throw new ModelLoadError(`generation_config.json must hold a JSON object (got ${quoteValue(raw)}); fix or remove it.`);
  }
  const g = (raw ?? {}) as Record<string, unknown>;
  const given = (k: string): unknown => (g[k] === null ? undefined : g[k]);
  const num = (k: string, ok: (v: number) => boolean, rule: string): number | undefined => {
    const v = given(k);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw invalid(k, v, rule);
    return v;
  };
  const vocab = config.vocabSize;
  const id = (k: string): number | undefined => num(k, (v) => Number.isInteger(v) && v >= 0 && v < vocab, `a token id in [0, ${vocab})`);
  const eosRaw = given('eos_token_id');
  let eos: number[] = [];
  if (eosRaw !== undefined) {
    eos = idList(eosRaw);
    const count = Array.isArray(eosRaw) ? eosRaw.length : 1;
    if (eos.length !== count || eos.some((e) => e >= vocab)) throw invalid('eos_token_id', eosRaw, `a token id in [0, ${vocab}) or a list of them`);
  }
  const eosTokenIds = eos.length > 0 ? eos : config.eosTokenIds;
  const outside = eosTokenIds.find((e) => e >= vocab);
  if (outside !== undefined) throw new ModelLoadError(`config.json: eos_token_id ${outside} is not in the vocabulary of ${vocab} tokens; fix it.`);
  const doSample = given('do_sample');
  if (doSample !== undefined && typeof doSample !== 'boolean') throw invalid('do_sample', doSample, 'true or false');
  const padTokenId = id('pad_token_id') ?? config.padTokenId ?? eosTokenIds[0] ?? 0;
  if (padTokenId >= vocab) throw new ModelLoadError(`config.json: pad_token_id ${padTokenId} is not in the vocabulary of ${vocab} tokens; fix it.`);
  return {
    eosTokenIds,
    bosTokenId: id('bos_token_id') ?? config.bosTokenId,
    padTokenId,
    doSample: doSample === true,
    temperature: num('temperature', (v) => v >= 0, 'a number >= 0'),
    topK: num('top_k', (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0'),
    topP: num('top_p', (v) => v > 0 && v <= 1, 'in (0, 1]'),
    repetitionPenalty: num('repetition_penalty', (v) => v > 0, 'a number > 0'),
    raw: g,
  };
}

function invalid(key: string, value: unknown, rule: string): ModelLoadError {
  return new ModelLoadError(`generation_config.json: ${key} must be ${rule} (got ${quoteValue(value)}); fix or remove it.`);
}
