import { ModelLoadError } from '../errors/model-load-error.js';
import { quoteValue } from '../util/describe-cause.js';
import { checkTokenId, readTokenId, readTokenIds, type ModelConfig, type TokenIdField } from './model-config.js';

/** Defaults from `generation_config.json` (falling back to `config.json`). */
export interface GenerationConfig {
  readonly eosTokenIds: readonly number[];
  readonly bosTokenId: number | undefined;
  readonly padTokenId: number;
  /**
   * Neither file names a pad token in the vocabulary: `padTokenId` is then the first EOS id (0
   * without one). It only fills the batch positions the attention mask hides.
   */
  readonly padTokenIdFallback: boolean;
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
  /** `max_new_tokens`: the `maxTokens` of a request that gives none (it wins over `max_length`). */
  readonly maxNewTokens: number | undefined;
  /**
   * `max_length`, prompt + new tokens: without `max_new_tokens`, a request that gives no
   * `maxTokens` stops once the prompt and its tokens reach it, but never later than the default
   * 256 new tokens (many files copy the context length here) and never before one token.
   */
  readonly maxLength: number | undefined;
  /** `min_new_tokens`: end-of-sequence ids cannot be picked until this many new tokens (it wins over `min_length`). */
  readonly minNewTokens: number | undefined;
  /** `min_length`, prompt + new tokens: as `minNewTokens`, less the prompt. */
  readonly minLength: number | undefined;
  /** `suppress_tokens`: ids never generated (distinct, in the vocabulary). */
  readonly suppressTokens: readonly number[];
  /** `begin_suppress_tokens`: ids not generated as the first new token (distinct, in the vocabulary). */
  readonly beginSuppressTokens: readonly number[];
  /**
   * `bad_words_ids`: id sequences never generated. A one-id sequence bans that id always (except
   * an end-of-sequence id, which transformers drops from the list); a longer one bans its last id
   * when the ids before it end the prompt and output so far.
   */
  readonly badWordsIds: readonly (readonly number[])[];
  readonly raw: Readonly<Record<string, unknown>>;
}

/** Most ids in `suppress_tokens` or `begin_suppress_tokens`, and most sequences in `bad_words_ids`. */
export const MAX_GENERATION_ID_LIST = 65_536;
/** Most ids in one `bad_words_ids` sequence. */
export const MAX_BAD_WORD_IDS = 256;
/** Most ids in all of `bad_words_ids`. */
export const MAX_BAD_WORDS_TOTAL_IDS = 262_144;

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
  const count = (k: string, least: number): number | undefined => num(k, (v) => Number.isInteger(v) && v >= least, `an integer >= ${least}`);
  /** A list of at most `max` items of `what`, each read by `item` (which names the key itself in its errors). */
  const list = <T>(key: string, max: number, what: string, item: (v: unknown, i: number) => T): T[] => {
    const v = given(key);
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw invalid(key, v, `a list of ${what}`);
    if (v.length > max) throw new ModelLoadError(`${path}: ${key} holds ${v.length} ${what}; at most ${max} are allowed. Fix or remove it.`, { path });
    return v.map(item);
  };
  const ids = (key: string): number[] => [...new Set(list(key, MAX_GENERATION_ID_LIST, 'token ids', (id) => checkTokenId(id, field(key), false, true)))];
  let badWordIds = 0;
  const badWordsIds = list('bad_words_ids', MAX_GENERATION_ID_LIST, 'id sequences', (words, i) => {
    const key = `bad_words_ids[${i}]`;
    if (!Array.isArray(words) || words.length === 0 || words.length > MAX_BAD_WORD_IDS) {
      const got = Array.isArray(words) ? `a list of ${words.length}` : quoteValue(words);
      throw new ModelLoadError(`${path}: ${key} must be a non-empty list of at most ${MAX_BAD_WORD_IDS} token ids (got ${got}); fix or remove it.`, { path });
    }
    badWordIds += words.length;
    if (badWordIds > MAX_BAD_WORDS_TOTAL_IDS) {
      throw new ModelLoadError(`${path}: bad_words_ids holds over ${MAX_BAD_WORDS_TOTAL_IDS} token ids in all (${badWordIds} up to ${key}); fix or remove it.`, { path });
    }
    return words.map((id: unknown) => checkTokenId(id, field(key), false, true));
  });
  const suppressTokens = ids('suppress_tokens');
  const banned = new Set(suppressTokens);
  for (const words of badWordsIds) if (words.length === 1 && !eosTokenIds.includes(words[0]!)) banned.add(words[0]!);
  // Every step would fail with "no token left to pick": say so at load.
  if (banned.size >= config.vocabSize) {
    throw new ModelLoadError(`${path}: suppress_tokens and bad_words_ids ban all ${config.vocabSize} tokens of the vocabulary; fix or remove them.`, { path });
  }
  const beginSuppressTokens = ids('begin_suppress_tokens');
  // The first step, or every step before min_new_tokens (which bans the EOS ids too), would.
  if (countUnion(banned, beginSuppressTokens) >= config.vocabSize) {
    throw new ModelLoadError(`${path}: suppress_tokens, bad_words_ids and begin_suppress_tokens ban all ${config.vocabSize} tokens at the first step; fix or remove them.`, { path });
  }
  const minNewTokens = count('min_new_tokens', 0);
  if (minNewTokens !== undefined && minNewTokens > 0) {
    if (countUnion(banned, eosTokenIds) >= config.vocabSize) {
      throw new ModelLoadError(`${path}: suppress_tokens and bad_words_ids leave only end-of-sequence ids, which min_new_tokens ${minNewTokens} bans until then; fix or remove them.`, { path });
    }
    // The first step bans all three sets at once.
    if (countUnion(new Set([...banned, ...beginSuppressTokens]), eosTokenIds) >= config.vocabSize) {
      throw new ModelLoadError(`${path}: suppress_tokens, bad_words_ids, begin_suppress_tokens and the end-of-sequence ids min_new_tokens ${minNewTokens} bans ban all ${config.vocabSize} tokens at the first step; fix or remove them.`, { path });
    }
  }
  const namedPad = pad ?? (config.padTokenId !== undefined && config.padTokenId < config.vocabSize ? config.padTokenId : undefined);
  return {
    eosTokenIds,
    bosTokenId: bos ?? (config.bosTokenId === undefined ? undefined : checkTokenId(config.bosTokenId, fallback('bos_token_id'), false)),
    // A stale config.json pad id outside the vocabulary is passed over (padding only fills batch
    // rows the attention mask hides): the first EOS id pads instead.
    padTokenId: namedPad ?? eosTokenIds[0] ?? 0,
    padTokenIdFallback: namedPad === undefined,
    doSample: doSample === true,
    temperature: num('temperature', (v) => v >= 0, 'a finite number >= 0'),
    topK: g.top_k === null ? 0 : num('top_k', (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0'),
    topP: num('top_p', (v) => v >= 0 && v <= 1, 'in [0, 1]'),
    minP: num('min_p', (v) => v >= 0 && v <= 1, 'in [0, 1]'),
    repetitionPenalty: num('repetition_penalty', (v) => v > 0, 'a finite number > 0'),
    maxNewTokens: count('max_new_tokens', 1),
    maxLength: count('max_length', 1),
    minNewTokens,
    minLength: count('min_length', 0),
    suppressTokens,
    beginSuppressTokens,
    badWordsIds,
    raw: g,
  };
}

/** How many distinct ids `set` and `more` hold together. */
function countUnion(set: ReadonlySet<number>, more: readonly number[]): number {
  let size = set.size;
  for (const id of new Set(more)) if (!set.has(id)) size++;
  return size;
}
