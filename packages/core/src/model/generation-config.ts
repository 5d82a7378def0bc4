import { idList, optionalId, type ModelConfig } from './model-config.js';

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

export function parseGenerationConfig(raw: unknown, config: ModelConfig): GenerationConfig {
  const g = (typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? raw : {}) as Record<string, unknown>;
  const eos = idList(g['eos_token_id']);
  const num = (k: string): number | undefined => (typeof g[k] === 'number' ? (g[k] as number) : undefined);
  return {
    eosTokenIds: eos.length > 0 ? eos : config.eosTokenIds,
    bosTokenId: optionalId(g['bos_token_id']) ?? config.bosTokenId,
    padTokenId: optionalId(g['pad_token_id']) ?? config.padTokenId ?? config.eosTokenIds[0] ?? 0,
    doSample: g['do_sample'] === true,
    temperature: num('temperature'),
    topK: num('top_k'),
    topP: num('top_p'),
    repetitionPenalty: num('repetition_penalty'),
    raw: g,
  };
}
