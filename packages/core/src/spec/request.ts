import type { Analyzer } from './analyzer.js';
import type { AttentionRouter } from './attention-router.js';
import type { KvCacheStore } from './kv-cache.js';
import type { LogitsProcessor, Sampler } from './logits.js';
import type { PromptCache } from './prompt-cache.js';
import type { ChatMessage } from './tokenizer.js';

/** A registry entry by name, with options for its `create`. */
export type NamedRef = string | { readonly name: string; readonly options?: Readonly<Record<string, unknown>> };

/**
 * One generation request. Exactly one of `prompt`, `messages` or `inputIds` is given; arrays of
 * them form a batch that advances in one forward pass per step (left padding). A run reads each
 * field, and each item of its lists, once as it starts: a read that throws (a getter, a proxy) is
 * an `InvalidOptionsError` naming it, and a hole in a list is no value. Component instances
 * (`kv`, `router`, `processors`, `analyzers`, `sampler`) need a string `name`, read then too.
 */
export interface GenerationRequest {
  /** Text, encoded with the tokenizer's special-token rules (e.g. BOS). */
  readonly prompt?: string | readonly string[] | undefined;
  /** Chat turns, rendered with the model's chat template and a generation prompt. */
  readonly messages?: readonly ChatMessage[] | readonly (readonly ChatMessage[])[] | undefined;
  /** Token ids, used exactly as given. */
  readonly inputIds?: readonly number[] | readonly (readonly number[])[] | undefined;
  /**
   * New tokens per row. Default: generation_config.json's `max_new_tokens`, else 256, shortened
   * (never lengthened) to its `max_length` less the longest prompt, at least 1. Capped by the
   * context length. In a batch the cap comes from the longest prompt (every row's cache is padded
   * to its length), so near the context limit a short prompt gets fewer tokens than it would alone.
   */
  readonly maxTokens?: number | undefined;
  /**
   * New tokens per row before an end-of-sequence id may be generated (every EOS id is banned
   * until then), an integer >= 0; `maxTokens` still ends the row. Default: generation_config.json's
   * `min_new_tokens`, else its `min_length` less the longest prompt, else 0. No effect with
   * `ignoreEos`.
   */
  readonly minTokens?: number | undefined;
  /** 0 (default, unless generation_config samples) means greedy. */
  readonly temperature?: number | undefined;
  /** Sampling keeps the K most likely tokens; 0 = off. Default: generation_config's `top_k`, else 50 (as transformers). */
  readonly topK?: number | undefined;
  /** Nucleus sampling mass in [0, 1] (0 keeps only the most likely token); 1 = off. Default: generation_config's `top_p`, else 1. */
  readonly topP?: number | undefined;
  /** Sampling drops tokens below minP × the top probability, in [0, 1] (as generation_config's `min_p`); 0 = off. Default: generation_config's `min_p`, else 0. */
  readonly minP?: number | undefined;
  /** > 1 penalises tokens already in the prompt or output (CTRL-style). Default 1. */
  readonly repetitionPenalty?: number | undefined;
  /**
   * Seed of the sampling generator; the same request with the same seed gives the same tokens.
   * A batch shares one generator, drawn from row by row, so a prompt's sampled tokens in a batch
   * differ from its tokens alone (greedy decoding draws nothing and is unaffected).
   */
  readonly seed?: number | undefined;
  /**
   * Keep generating through end-of-sequence ids until `maxTokens` (default false): the EOS id is
   * then an ordinary token. For benchmarks that must time a fixed number of steps.
   */
  readonly ignoreEos?: boolean | undefined;
  /**
   * Strings that end a row (`stop`); matched in the row's text across token boundaries and never
   * emitted. The row ends at the first one its text completes (the occurrence that ends first; of
   * those ending together, the longest), whatever the tokens, and its text is everything before
   * it. A stop string that is the content of a special token decoding skips (Gemma's
   * `<end_of_turn>`, ChatML's `<|im_end|>`) ends the row when the model writes that token; one
   * holding such content with other text (`"<end_of_turn>\n"`, `"\n<|im_end|>"`) matches where the
   * model writes the token, the token standing for its content, also where that token is an
   * end-of-sequence id (the row then ends with `stop` if the stop completes, else with `eos`).
   * Each must be a non-empty string of whole characters: one holding half of a UTF-16 surrogate
   * pair (part of an emoji) is an `InvalidOptionsError` naming its index.
   */
  readonly stop?: readonly string[] | undefined;
  /**
   * Aborting ends every row with `abort` at once, also while a forward pass (or, with failover, a
   * backend's session opening) is pending: the stream does not wait for it, and its tokens are not
   * emitted. The run still completes with a `done` event (finish reason `abort`, the usage so far,
   * the text held back flushed), which unsubscribing, the other way to stop, does not give: that
   * ends the run at once in silence.
   * `signal.aborted` is read at every step boundary; a getter that throws ends the run with an
   * `InvalidOptionsError` naming `signal`.
   */
  readonly signal?: AbortSignal | undefined;
  /**
   * KV-cache store: a registered `kv-cache` entry (a new instance per run), or an instance. An
   * instance holds one run's cache: a second run on it while the first is going fails with an
   * `InvalidOptionsError`, so subscribe once, or pass a name. Default: the runtime's default
   * store (a plugin's entry with the `default` capability, e.g. `kvQuant`), else `fp32`; an idle
   * instance of it is reused when its entry is `reusable` (see `REUSABLE_CAPABILITY`). A name
   * nothing registered (here and in the other component fields) is an `InvalidOptionsError` whose
   * `option` is the field, with the registry's `AdapterResolutionError` as `cause`.
   */
  readonly kv?: NamedRef | KvCacheStore | undefined;
  /**
   * Attention router: a registered `attention-router` entry, or an instance (one run at a time,
   * like a store instance). Default: the runtime's default router (a plugin's entry with the
   * `default` capability, e.g. `sinkWindow`), else none (the full cache).
   */
  readonly router?: NamedRef | AttentionRouter | undefined;
  /** Extra logits processors: registered `logits-processor` entries or instances. */
  readonly processors?: readonly (NamedRef | LogitsProcessor)[] | undefined;
  /** Analyzers whose results are emitted as `analysis` events. */
  readonly analyzers?: readonly (NamedRef | Analyzer)[] | undefined;
  /** Replaces the built-in greedy / multinomial sampler. */
  readonly sampler?: NamedRef | Sampler | undefined;
  /** Emit a `metrics` event per step (default true). */
  readonly metrics?: boolean | undefined;
  /**
   * A cache made by this model's `createPromptCache()`: the run feeds only the part of its prompt
   * the cache does not already hold, and leaves its own cache there for the next request (see
   * {@link PromptCache}). One prompt per request; an attention router only if it `resumesCache`.
   */
  readonly promptCache?: PromptCache | undefined;
}
