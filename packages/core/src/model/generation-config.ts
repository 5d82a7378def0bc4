import { ModelLoadError } from '../errors/model-load-error.js';
import { quoteValue } from '../util/describe-cause.js';
import { checkTokenId, readTokenId, readTokenIds, type ModelConfig, type TokenIdField } from './model-config.js';

/** Defaults from `generation_config.json` (falling back to `config.json`). */
export interface GenerationConfig {
  readonly eosTokenIds: readonly number[];
  readonly bosTokenId: number | undefined;
  readonly padTokenId: number;
  readonly doSample: boolean;
  readonly temperature: number | undefined;
  /**
   * `top_k`: 0 when the file gives `null` (transformers' way of turning top-k off); undefined when
   * absent, where sampling uses transformers' default of 50.
   */
  readonly topK: number | undefined;
  readonly topP: number | undefined;
  /** `min_p`; absent means no min-p truncation. */
  readonly minP: number | undefined;
  readonly repetitionPenalty: number | undefined;
  readonly raw: Readonly<Record<string, unknown>>;
}

/**
 * Reads `generation_config.json` (an absent file is `{}`), checking every value Weft uses: a
 * sampling default or token id that is out of range is a `ModelLoadError` at load, not a garbage
 * or endless generation later. The ids Weft uses must be in the vocabulary, whichever file gives
 * them; `config.json` ids this file overrides are not range-checked. `path` and `configPath` name
 * the files in messages.
 */
export function parseGenerationConfig(raw: unknown, config: ModelConfig, path = 'generation_config.json', configPath = 'config.json'): GenerationConfig {
  if (raw !== undefined && (typeof raw !== 'object' || raw === null || Array.isArray(raw))) {
    throw new ModelLoadError(`${path} must hold a JSON object (got ${quoteValue(raw)}); fix or remove it.`, { path });
  }
  const g = (raw ?? {}) as Record<string, unknown>;
  const given = (k: string): unknown => (g[k] === null ? undefined : g[k]);
  const invalid = (key: string, value: unknown, rule: string): ModelLoadError =>
    new ModelLoadError(`${path}: ${key} must be ${rule} (got ${quoteValue(value)}); fix or remove it.`, { path });
  const num = (k: string, ok: (v: number) => boolean, rule: string): number | undefined => {
    const v = given(k);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw invalid(k, v, rule);
    return v;
  };
  const field = (key: string): TokenIdField => ({ file: path, key, vocab: config.vocabSize });
  // The config.json values used when this file gives none, checked against the vocabulary now.
  const fallback = (key: string) => ({ file: configPath, key, vocab: config.vocabSize });
  const eos = readTokenIds(given('eos_token_id'), field('eos_token_id'));
  const eosTokenIds = eos.length > 0 ? eos : config.eosTokenIds.map((id) => checkTokenId(id, fallback('eos_token_id'), true, true));
  const bos = readTokenId(given('bos_token_id'), field('bos_token_id'));
  const pad = readTokenId(given('pad_token_id'), field('pad_token_id'));
  const doSample = given('do_sample');
  if (doSample !== undefined && typeof doSample !== 'boolean') throw invalid('do_sample', doSample, 'true or false');
  return {
    eosTokenIds,
    bosTokenId: bos ?? (config.bosTokenId === undefined ? undefined : checkTokenId(config.bosTokenId, fallback('bos_token_id'), false)),
    // A stale config.json pad id outside the vocabulary is passed over (padding only fills batch
    // rows the attention mask hides): the first EOS id pads instead.
    padTokenId: pad ?? (config.padTokenId !== undefined && config.padTokenId < config.vocabSize ? config.padTokenId : undefined) ?? eosTokenIds[0] ?? 0,
    doSample: doSample === true,
    temperature: num('temperature', (v) => v >= 0, 'a number >= 0'),
    topK: g.top_k === null ? 0 : num('top_k', (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0'),
    topP: num('top_p', (v) => v >= 0 && v <= 1, 'in [0, 1]'),
    minP: num('min_p', (v) => v >= 0 && v <= 1, 'in [0, 1]'),
    repetitionPenalty: num('repetition_penalty', (v) => v > 0, 'a number > 0'),
    raw: g,
  };
}
