import type { Observable } from 'rxjs';
import type { GenerationConfig } from '../model/generation-config.js';
import type { ModelConfig } from '../model/model-config.js';
import type { PerplexityRequest, PerplexityResult } from '../generation/evaluate-perplexity.js';
import type { InferenceSession, SessionOptions } from './backend.js';
import type { GenerationEvent } from './events.js';
import type { KvLayout } from './kv-cache.js';
import type { WeftPlugin } from './plugin.js';
import type { AdapterRegistry } from './registry.js';
import type { GenerationRequest } from './request.js';
import type { Tokenizer } from './tokenizer.js';

/** How {@link Weft.load} opens a model folder. */
export interface LoadOptions {
  /** A registered backend name (`node`, `web`…) or `auto` (default): the highest-priority backend whose probe succeeds. */
  readonly backend?: string;
  /** Passed to the backend's session. */
  readonly session?: SessionOptions;
  /** Graph file relative to the folder, e.g. `onnx/model_with_attentions.onnx`. */
  readonly onnxFile?: string;
  /**
   * Continue a stream on another backend when its backend fails mid-stream (run throws or times
   * out). `true` uses every other available backend in priority order.
   */
  readonly failover?: boolean | FailoverOptions;
}

/** How streams move between backends when one fails. */
export interface FailoverOptions {
  /** Fallback backends in order (registry names); default: every other available backend by priority. */
  readonly backends?: readonly string[];
  /** A `session.run` that takes longer counts as a failure. */
  readonly runTimeoutMs?: number;
  /** Per-backend circuit breaker: opens after `failureThreshold` consecutive failures, half-opens after `cooldownMs`. */
  readonly breaker?: { readonly failureThreshold?: number; readonly cooldownMs?: number };
}

/** A loaded model: configs, tokenizer, and generation over one backend session. */
export interface WeftModel {
  readonly path: string;
  readonly config: ModelConfig;
  readonly generationConfig: GenerationConfig;
  readonly tokenizer: Tokenizer;
  /** Name of the backend runs currently go to (changes after a failover). */
  readonly backend: string;
  /** Backends passed over when loading (`auto` or by name), with reasons. */
  readonly rejectedBackends: readonly { readonly name: string; readonly reason: string }[];
  readonly layout: KvLayout;
  /**
   * The backend session runs currently go to (another one after a failover). For interop and
   * diagnostics, e.g. timing a hand-written loop on the same session: Weft owns it, so never
   * release it yourself, and do not run it while a generation of this model is in flight.
   */
  readonly session: InferenceSession;
  /** Cold Observable of typed events; each subscription is one run. */
  generate(request: GenerationRequest): Observable<GenerationEvent>;
  /** Text deltas of the first row, as they are produced. */
  stream(request: GenerationRequest): AsyncIterable<string>;
  /** The first row's full text. */
  text(request: GenerationRequest): Promise<string>;
  /** Perplexity through the incremental KV path. */
  evaluate(request: PerplexityRequest): Promise<PerplexityResult>;
  /** Releases the session. Idempotent; generation afterwards fails with a clear error. */
  dispose(): Promise<void>;
}

/** One Weft runtime: its own container, registry, plugins and hooks. */
export interface Weft {
  readonly registry: AdapterRegistry;
  /** Installs another plugin (validated, apiVersion-checked, setup run). */
  use(plugin: WeftPlugin): Promise<void>;
  /** Resolves once every plugin given to `createWeft` has been set up; rejects with the first `PluginError`. */
  ready(): Promise<void>;
  load(path: string, options?: LoadOptions): Promise<WeftModel>;
  /** Disposes every model loaded through this runtime. */
  dispose(): Promise<void>;
}
