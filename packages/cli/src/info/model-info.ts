/**
 * What `weft info` reports about a loaded model: the object `weft info --json` prints, and what
 * its text output is made from. The keys are stable (documented in the CLI's README); a fact
 * that does not apply or cannot be known is `null`, never left out.
 */
export interface ModelInfo {
  readonly model: ModelFacts;
  readonly tokenizer: TokenizerFacts;
  readonly generation: GenerationDefaults;
  readonly backend: BackendFacts;
  readonly registry: RegistryFacts;
}

/** The model folder, its graph, and the architecture from config.json and the graph's inputs. */
export interface ModelFacts {
  /** The folder (an absolute path) or `http(s)://` URL the model was loaded from. */
  readonly location: string;
  /** The graph file the session was made from, within the folder (core's `model.graphFile`). */
  readonly graphFile: string;
  /** External data files the graph reads its weights from (`[]`: none); null for a URL folder. */
  readonly externalData: readonly string[] | null;
  readonly modelType: string;
  readonly layers: number;
  readonly attentionHeads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly hiddenSize: number;
  /** `vocab_size` in config.json (the tokenizer's own is `tokenizer.vocabSize`). */
  readonly vocabSize: number;
  readonly maxPositions: number;
  /** The graph has a `position_ids` input (Weft feeds positions); false: it derives them itself. */
  readonly positionIds: boolean;
  readonly attentionMask: boolean;
  /** The graph has `past_key_values.*` inputs (a KV cache); false: every step recomputes the sequence. */
  readonly kvCache: boolean;
  /** Element type of the graph's past and present tensors; null without a KV cache. */
  readonly kvCacheType: 'float32' | 'float16' | null;
  /** Bytes one cached token takes in float32 (keys and values, every layer); null without a KV cache. */
  readonly kvBytesPerToken: number | null;
  /** Attention-probability outputs (`attentions.*`), which routers such as heavy-hitter read. */
  readonly attentionOutputs: number;
  /** Element types Weft feeds `input_ids`, `attention_mask` and `position_ids` in (the graph's own). */
  readonly inputTypes: { readonly inputIds: 'int64' | 'int32'; readonly attentionMask: 'int64' | 'int32'; readonly positionIds: 'int64' | 'int32' };
  /** Element type of the graph's `logits` (float16 ones are converted to float32 rows). */
  readonly logitsType: 'float32' | 'float16';
  /** A Hugging Face Optimum merged decoder (`use_cache_branch` input). */
  readonly mergedDecoder: boolean;
  /** The graph's `num_logits_to_keep` (or `logits_to_keep`) input; null when it has none. */
  readonly logitsToKeep: string | null;
  /** Rotary embedding Weft can re-rotate cached keys for; null for other models. */
  readonly rope: { readonly theta: number; readonly rotaryDim: number; readonly scale: number } | null;
  /** Why a rotary model's cached keys cannot be re-rotated (`positions=cache` routers); else null. */
  readonly ropeUnsupported: string | null;
}

/** A token id with its text (special tokens included). */
export interface TokenFact {
  readonly id: number;
  readonly text: string;
}

/** The tokenizer built for the model, and the special ids Weft uses. */
export interface TokenizerFacts {
  /** The registry entry that built it (the highest-priority `tokenizer` entry). */
  readonly name: string | null;
  readonly vocabSize: number;
  readonly bos: TokenFact | null;
  readonly eos: readonly TokenFact[];
  readonly pad: TokenFact;
  /** The model names no pad token: `pad` is core's fallback, the first EOS id (0 without one). */
  readonly padFallback: boolean;
  /** Encoding a prompt with special tokens puts the BOS id first. */
  readonly addsBos: boolean;
  /** Ids encoding with special tokens adds before the text, and after it. */
  readonly addedBefore: readonly TokenFact[];
  readonly addedAfter: readonly TokenFact[];
  /** A chat template Weft can use (`--messages`); null when the tokenizer failed to say. */
  readonly chatTemplate: boolean | null;
  /**
   * Why the template refused a one-message user chat (its own rule, e.g. "a system message must
   * come first", or a feature the renderer lacks); null when it rendered, or there is none.
   */
  readonly chatTemplateRefusal: string | null;
  /** The chat template writes the BOS itself, so chat prompts are encoded without it. */
  readonly chatTemplateAddsBos: boolean;
}

/** generation_config.json's sampling defaults (null: not given). */
export interface GenerationDefaults {
  readonly doSample: boolean;
  readonly temperature: number | null;
  readonly topK: number | null;
  readonly topP: number | null;
  readonly minP: number | null;
  readonly repetitionPenalty: number | null;
  readonly eosTokenIds: readonly number[];
  /** `max_new_tokens`, `max_length`, `min_new_tokens`, `min_length` (null: not given). */
  readonly maxNewTokens: number | null;
  readonly maxLength: number | null;
  readonly minNewTokens: number | null;
  readonly minLength: number | null;
  /** `suppress_tokens`, `begin_suppress_tokens` (distinct ids) and `bad_words_ids` (`[]`: none). */
  readonly suppressTokens: readonly number[];
  readonly beginSuppressTokens: readonly number[];
  readonly badWordsIds: readonly (readonly number[])[];
}

/** The backend the model runs on, the ones passed over, and its session's graph names. */
export interface BackendFacts {
  readonly name: string;
  readonly rejected: readonly { readonly name: string; readonly reason: string }[];
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
}

/** One registry entry, as `weft.registry.list(kind)` gives it. */
export interface EntryFacts {
  readonly name: string;
  readonly owner: string;
  readonly priority: number;
  readonly capabilities: readonly string[];
  readonly description: string | null;
}

/** The runtime's registry after the bundled plugins and every `--plugin`. */
export interface RegistryFacts {
  /** What a request that names none uses: the KV store, the attention router (null: none) and the tokenizer. */
  readonly defaults: { readonly kvCache: string; readonly attentionRouter: string | null; readonly tokenizer: string | null };
  /** Entries of every kind the registry accepts (core's, then those plugins declared), highest priority first (`[]` for a kind with none). */
  readonly kinds: Readonly<Record<string, readonly EntryFacts[]>>;
  /** Plugins that added generation hooks: the hooks' names, and the graph inputs they feed. */
  readonly hooks: readonly { readonly owner: string; readonly hooks: readonly string[]; readonly feeds: readonly string[] }[];
}
