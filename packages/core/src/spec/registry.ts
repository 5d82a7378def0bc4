/**
 * Adapter registry contract. Each extension point is a *kind*; each kind holds named entries with a
 * priority and capabilities. One registry exists per Weft runtime (never global).
 */
import type { Analyzer } from './analyzer.js';
import type { AttentionRouter } from './attention-router.js';
import type { BackendAdapter } from './backend.js';
import type { Grounder, ModelTransform, StrategySelector, VisionEncoder, VisionFusion } from './extensions.js';
import type { KvCacheStore } from './kv-cache.js';
import type { LogitsProcessor, Sampler } from './logits.js';
import type { Tokenizer } from './tokenizer.js';
import type { KvLayout } from './kv-cache.js';
import type { ModelConfig } from '../model/model-config.js';
import type { GenerationConfig } from '../model/generation-config.js';

/**
 * What an entry of each kind creates. Third-party packages add kinds by declaration merging:
 * `declare module '@weft/core' { interface AdapterKinds { 'my-kind': MyThing } }`.
 */
export interface AdapterKinds {
  backend: BackendAdapter;
  'kv-cache': KvCacheStore;
  'attention-router': AttentionRouter;
  'logits-processor': LogitsProcessor;
  sampler: Sampler;
  analyzer: Analyzer;
  'strategy-selector': StrategySelector;
  'model-transform': ModelTransform;
  'vision-encoder': VisionEncoder;
  'vision-fusion': VisionFusion;
  grounder: Grounder;
  /** Built once per load from the model folder's files (`create(files: TokenizerFiles)`). */
  tokenizer: Tokenizer;
}

/** The name of an extension point kind: core's (`backend`, `kv-cache`, …) and any added to `AdapterKinds`. */
export type AdapterKind = keyof AdapterKinds & string;

/** A named implementation of one extension point. `create` is called per use (per request for
 * stateful kinds such as KV-cache stores, once per load for backends). */
export interface AdapterEntry<T, O = Readonly<Record<string, unknown>>> {
  readonly name: string;
  /** Higher wins when several entries match. Default 0. */
  readonly priority?: number;
  /** Capability flags this entry offers, e.g. `['attentions']`, `['wasm', 'webgpu']`. */
  readonly capabilities?: readonly string[];
  /** One-line description shown in listings and error messages. */
  readonly description?: string;
  /**
   * Makes an instance: per run for stores (a `reusable` default store's instances serve one run
   * after another), routers, processors, analyzers and samplers, per load for
   * tokenizers and backends. `options` are what the caller gave with the name (a request's
   * `{ name, options }`, or `name:key=value` on the CLI); validate them and throw an
   * `InvalidOptionsError` for bad ones. `context`: the model the request runs on (its tokenizer,
   * config, layout), for the per-request kinds a request names or gets by default; undefined
   * where there is no model (tokenizers, backends, `extensionPoint.create`).
   */
  create(options?: O, context?: CreateContext): T;
}

/**
 * What a per-request entry's `create` gets as its second argument: read-only facts of the model
 * the request runs on, e.g. its tokenizer to turn words given as options into ids. One frozen
 * object per loaded model, the same for each of its requests. An instance that may serve the runs
 * of other models (a `reusable` store's) must not keep what it read here.
 */
export interface CreateContext {
  /** The model's tokenizer (`model.tokenizer`). */
  readonly tokenizer: Tokenizer;
  /** config.json as read (`vocabSize`, `maxPositions`, …). */
  readonly config: ModelConfig;
  /** generation_config.json as read (EOS ids, pad id, …). */
  readonly generationConfig: GenerationConfig;
  /** The graph's KV layout. */
  readonly layout: KvLayout;
}

/** An entry as the registry holds it: with the plugin that registered it. */
export interface RegisteredEntry<T = unknown> extends AdapterEntry<T> {
  /** Name of the registering plugin, or `host` for entries registered directly. */
  readonly owner: string;
}

/** Constraints for {@link AdapterRegistry.resolve}. */
export interface ResolveQuery {
  /** Exact entry name; when absent the highest-priority match wins. */
  readonly name?: string;
  /** Capabilities the entry must list (all of them). */
  readonly require?: readonly string[];
  /**
   * Extra predicate; return a string to reject the entry with that reason. A predicate that
   * throws rejects the entry with what it threw.
   */
  readonly accept?: (entry: RegisteredEntry) => true | string;
}

/** Why an entry was not chosen. */
export interface Rejection {
  readonly name: string;
  readonly reason: string;
}

/**
 * Registrations collected while a plugin's `setup` runs: each call is checked at once, and none
 * reaches the registry until {@link RegistrationStage.commit}, which adds all of them or none.
 */
export interface RegistrationStage {
  /** Checks the entry now (kind, fields, name clashes) and keeps a frozen copy for commit. */
  register<K extends AdapterKind>(kind: K, entry: AdapterEntry<AdapterKinds[K]>): void;
  /** Declares a kind for this stage's registrations; the registry learns it on commit. */
  declareKind(kind: string): void;
  /** Adds every staged kind and entry, or throws `InvalidOptionsError` and adds nothing. */
  commit(): void;
}

/** Per-runtime registry of adapters by kind. */
export interface AdapterRegistry {
  /**
   * Adds a frozen copy of the entry; throws `InvalidOptionsError` when the kind is unknown, the
   * entry is malformed or the kind already has that name.
   */
  register<K extends AdapterKind>(kind: K, entry: AdapterEntry<AdapterKinds[K]>, owner?: string): void;
  /** Entries of a kind, highest priority first (a frozen array of frozen entries). */
  list<K extends AdapterKind>(kind: K): readonly RegisteredEntry<AdapterKinds[K]>[];
  /** The best entry matching the query; throws `AdapterResolutionError` listing every rejection. */
  resolve<K extends AdapterKind>(kind: K, query?: ResolveQuery): RegisteredEntry<AdapterKinds[K]>;
  /**
   * Changes whenever an entry is added (optional): lets callers cache what they resolved until it
   * changes. A registry without it is resolved afresh for every request.
   */
  readonly revision?: number;
  /**
   * Makes a kind added to `AdapterKinds` by declaration merging known at run time, so
   * `register` accepts it (optional; idempotent). Core's own kinds need no declaration.
   */
  declareKind?(kind: string): void;
  /**
   * Every kind this registry accepts (optional): core's own, then those declared with
   * `declareKind`, in the order declared. A kind a failed plugin setup declared is not among them.
   */
  kinds?(): readonly string[];
  /** Starts an all-or-nothing batch of registrations by `owner` (optional; used by the plugin host). */
  stage?(owner: string): RegistrationStage;
}
