import { ModelLoadError } from '../errors/model-load-error.js';
import { quoteValue } from '../util/describe-cause.js';

/** Decoder-only architectures whose Hugging Face ONNX exports share the past/present layout. */
export const SUPPORTED_MODEL_TYPES: readonly string[] = [
  'llama', 'mistral', 'qwen2', 'qwen3', 'gemma', 'gemma2', 'phi', 'phi3', 'gpt2', 'gpt_neox', 'gptj',
  'granite', 'olmo', 'olmo2', 'stablelm', 'starcoder2', 'smollm3', 'codegen', 'bloom', 'opt', 'falcon',
];

/**
 * Architectures whose Hugging Face implementation applies rotary embeddings in the rotate-half
 * layout (dimension i pairs with i + rotaryDim/2) to keys before caching them.
 */
export const ROTATE_HALF_MODEL_TYPES: readonly string[] = [
  'llama', 'mistral', 'qwen2', 'qwen3', 'gemma', 'gemma2', 'phi3', 'granite', 'olmo', 'olmo2', 'stablelm', 'starcoder2', 'smollm3',
];

/** A rotary position embedding Weft can reproduce (to re-rotate cached keys). */
export interface RotaryEmbedding {
  /** Base of the frequencies, `rope_theta` (10000 when absent). */
  readonly theta: number;
  /** Leading dimensions of each head that rotate (`head_dim × partial_rotary_factor`). */
  readonly rotaryDim: number;
}

/** The fields of `config.json` the runtime uses, normalised across architectures. */
export interface ModelConfig {
  readonly modelType: string;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly vocabSize: number;
  /** Longest sequence the model was trained for. */
  readonly maxPositions: number;
  readonly bosTokenId: number | undefined;
  readonly eosTokenIds: readonly number[];
  readonly padTokenId: number | undefined;
  /**
   * The rotary embedding, for rotate-half architectures without `rope_scaling` (or with
   * `default`/`linear` scaling, folded into `theta`-based frequencies by `ropeScale`).
   * Undefined for other models; `ropeUnsupported` then says why where the model is rotary
   * (including a malformed `rope_theta`, `partial_rotary_factor` or linear `factor`).
   */
  readonly rope: (RotaryEmbedding & { readonly ropeScale: number }) | undefined;
  readonly ropeUnsupported?: string;
  /** The parsed JSON as written. */
  readonly raw: Readonly<Record<string, unknown>>;
}

/**
 * Rotary architectures outside the rotate-half ones whose rotation core reproduces, with what
 * differs: renumbering their cache would leave every cached key at the rotation of the position it
 * was fed at.
 */
const OTHER_ROTARY: Readonly<Record<string, string>> = {
  gptj: 'a rotary embedding on interleaved pairs (2i, 2i + 1)',
  codegen: 'a rotary embedding on interleaved pairs (2i, 2i + 1)',
  gpt_neox: 'a partial rotary embedding (rotary_pct) Weft does not reproduce',
  phi: 'a partial rotary embedding Weft does not reproduce',
  falcon: 'a rotary embedding Weft does not reproduce',
};

/** Parses and validates `config.json`; `path` is used in error messages. */
export function parseModelConfig(raw: unknown, path: string): ModelConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ModelLoadError(`${path} must hold a JSON object.`, { path });
  }
  const c = raw as Record<string, unknown>;
  const modelType = c['model_type'];
  if (typeof modelType !== 'string') {
    const got = modelType === undefined ? 'has no "model_type"' : `has "model_type" ${quoteValue(modelType)}, not a string`;
    throw new ModelLoadError(`${path} ${got}; it must name the architecture (one of ${SUPPORTED_MODEL_TYPES.join(', ')}).`, { path });
  }
  if (!SUPPORTED_MODEL_TYPES.includes(modelType)) {
    throw new ModelLoadError(
      `Unknown model type "${modelType}" in ${path}. Supported decoder types: ${SUPPORTED_MODEL_TYPES.join(', ')}.`,
      { path },
    );
  }
  const int = (keys: readonly string[], fallback?: number): number => {
    for (const k of keys) {
      const v = c[k];
      if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
      if (v !== undefined && v !== null) {
        // quoteValue, not JSON.stringify: a number too long for a double (400 digits) parses as
        // Infinity, which JSON writes as null.
        const note = v === Number.POSITIVE_INFINITY || v === Number.NEGATIVE_INFINITY ? ', a number too large to hold' : '';
        throw new ModelLoadError(`${path}: "${k}" must be a positive integer (got ${quoteValue(v)}${note}); fix it.`, { path });
      }
    }
    if (fallback !== undefined) return fallback;
    throw new ModelLoadError(`${path} lacks "${keys[0]}".`, { path });
  };
  const hiddenSize = int(['hidden_size', 'n_embd', 'd_model']);
  const numHeads = int(['num_attention_heads', 'n_head']);
  const numLayers = int(['num_hidden_layers', 'n_layer']);
  const numKvHeads = int(['num_key_value_heads', 'multi_query_group_num'], numHeads);
  const headDim = int(['head_dim'], hiddenSize / numHeads);
  if (!Number.isInteger(headDim)) {
    throw new ModelLoadError(`${path}: hidden size ${hiddenSize} is not divisible by ${numHeads} heads and no head_dim is given.`, { path });
  }
  if (numHeads % numKvHeads !== 0) {
    throw new ModelLoadError(`${path}: ${numHeads} attention heads are not a multiple of ${numKvHeads} key/value heads.`, { path });
  }
  const vocabSize = int(['vocab_size']);
  // Type checks only: an id here may be overridden by generation_config.json (stale ids such as
  // GPT-2's 50256 are common), so parseGenerationConfig checks the range of the ids Weft uses.
  const field = (key: string): TokenIdField => ({ file: path, key });
  return {
    modelType,
    hiddenSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    vocabSize,
    maxPositions: int(['max_position_embeddings', 'n_positions', 'n_ctx', 'seq_length'], 2048),
    bosTokenId: readTokenId(c['bos_token_id'], field('bos_token_id')),
    eosTokenIds: readTokenIds(c['eos_token_id'], field('eos_token_id')),
    padTokenId: readTokenId(c['pad_token_id'], field('pad_token_id')),
    ...rotary(modelType, c, headDim),
    raw: c,
  };
}

function rotary(modelType: string, c: Record<string, unknown>, headDim: number): Pick<ModelConfig, 'rope' | 'ropeUnsupported'> {
  if (!ROTATE_HALF_MODEL_TYPES.includes(modelType)) {
    // Falcon with ALiBi has no rotary embedding.
    const other = modelType === 'falcon' && c['alibi'] === true ? undefined : OTHER_ROTARY[modelType];
    return other === undefined ? { rope: undefined } : { rope: undefined, ropeUnsupported: other };
  }
  // Only re-rotating cached keys reads these: a malformed one makes that unsupported (said when
  // asked for), not the model unloadable, and never silently becomes a default.
  const theta = optionalPositive(c, 'rope_theta', 10000);
  if (typeof theta === 'string') return { rope: undefined, ropeUnsupported: theta };
  const factor = optionalPositive(c, 'partial_rotary_factor', 1);
  if (typeof factor === 'string') return { rope: undefined, ropeUnsupported: factor };
  const rotaryDim = Math.round(headDim * factor);
  if (rotaryDim <= 0 || rotaryDim > headDim || rotaryDim % 2 !== 0) {
    return { rope: undefined, ropeUnsupported: `a rotary dimension of ${rotaryDim} (head_dim ${headDim} × partial_rotary_factor ${factor})` };
  }
  const scaling = c['rope_scaling'] as Record<string, unknown> | null | undefined;
  const kind = scaling ? (scaling['rope_type'] ?? scaling['type']) : undefined;
  if (scaling && kind !== 'default' && kind !== 'linear') {
    return { rope: undefined, ropeUnsupported: `rope_scaling of type ${quoteValue(kind)}` };
  }
  if (kind !== 'linear') return { rope: { theta, rotaryDim, ropeScale: 1 } };
  const ropeScale = typeof scaling?.['factor'] === 'number' && Number.isFinite(scaling['factor']) && scaling['factor'] > 0 ? scaling['factor'] : undefined;
  if (ropeScale === undefined) return { rope: undefined, ropeUnsupported: `linear rope_scaling with factor ${quoteValue(scaling?.['factor'])} (expected a number > 0)` };
  return { rope: { theta, rotaryDim, ropeScale } };
}

/**
 * `c[key]` when it is a finite number > 0, `fallback` when absent or null, else the reason it
 * cannot be used (for `ropeUnsupported`).
 */
function optionalPositive(c: Record<string, unknown>, key: string, fallback: number): number | string {
  const value = c[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value;
  return `${key} ${quoteValue(value)} (expected a number > 0)`;
}

/** A token id field of a config file, for messages: the file, the key, and the vocabulary size to check against (if any). */
export interface TokenIdField {
  readonly file: string;
  readonly key: string;
  readonly vocab?: number;
}

/**
 * A token id (`bos_token_id`, `pad_token_id`): undefined when absent, null or a negative integer
 * (older Llama configs write `"pad_token_id": -1` for "none"), else an integer in [0, vocab).
 */
export function readTokenId(value: unknown, field: TokenIdField): number | undefined {
  if (value === undefined || value === null || (Number.isInteger(value) && (value as number) < 0)) return undefined;
  return checkTokenId(value, field, false);
}

/** `eos_token_id`: one token id or a list of them; `[]` when absent or null. */
export function readTokenIds(value: unknown, field: TokenIdField): number[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value.map((id: unknown) => checkTokenId(id, field, true, true)) : [checkTokenId(value, field, true)];
}

/**
 * `id` when it is an integer ≥ 0, below `field.vocab` when that is given; else a `ModelLoadError`
 * naming the file and key (`element`: of a list).
 */
export function checkTokenId(id: unknown, field: TokenIdField, list: boolean, element = false): number {
  const { file, key, vocab } = field;
  const rule = `a token id ${vocab === undefined ? '(an integer >= 0)' : `in [0, ${vocab})`}${list ? ' or a list of them' : ''}`;
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
    throw new ModelLoadError(`${file}: ${key} must be ${rule} (got ${quoteValue(id)}${element ? ' in the list' : ''}); fix or remove it.`, { path: file });
  }
  if (vocab !== undefined && id >= vocab) {
    throw new ModelLoadError(`${file}: ${key} ${id} is not in the vocabulary of ${vocab} tokens (${key} must be ${rule}); fix or remove it.`, { path: file });
  }
  return id;
}
