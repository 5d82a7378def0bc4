import type { ServiceToken } from './token.js';
import type { Observable } from 'rxjs';
import type { GenerationConfig } from '../model/generation-config.js';
import type { ModelConfig } from '../model/model-config.js';
import type { PerplexityRequest, PerplexityResult } from '../generation/evaluate-perplexity.js';
import type { InferenceSession, SessionOptions } from './backend.js';
import type { GenerationEvent } from './events.js';
import type { KvLayout } from './kv-cache.js';
import type { PromptCache } from './prompt-cache.js';
import type { WeftPlugin } from './plugin.js';
import type { AdapterKind, AdapterKinds, AdapterRegistry, RegisteredEntry, ResolveQuery } from './registry.js';
import type { GenerationRequest } from './request.js';
import type { Tokenizer } from './tokenizer.js';

/** How {@link Weft.load} opens a model folder. */
export interface LoadOptions {
  /** A registered backend name (`node`, `web`…) or `auto` (default): the highest-priority backend whose probe succeeds. */
  readonly backend?: string;
  /** Passed to the backend's session. */
  readonly session?: SessionOptions;
  /**
   * Graph file within the folder, e.g. `onnx/model_with_attentions.onnx`: relative to it, or an
   * absolute path (a URL, for a folder served over HTTP) inside it. A name outside the folder is
   * an `InvalidOptionsError`.
   */
  readonly onnxFile?: string;
  /**
   * Continue a stream on another backend when its backend fails mid-stream (run throws or times
   * out). `true` uses every other available backend in priority order.
   */
  readonly failover?: boolean | FailoverOptions;
  /**
   * A registered `tokenizer` entry name (default: the highest-priority one; core registers
   * `huggingface`). An unknown name fails with an `AdapterResolutionError` listing the registered ones.
   */
  readonly tokenizer?: string;
  /**
   * Longest a backend's `probe()` may take (ms, default 10 000); a backend that does not answer in
   * time is passed over as unavailable.
   */
  readonly probeTimeoutMs?: number;
  /**
   * Longest a backend's `createSession()` may take (ms, default 300 000). A session that arrives
   * later is released; under `backend: 'auto'` the next available backend is tried. A backend
   * that opens sessions synchronously (onnxruntime-node builds them on the main thread) is not
   * bounded by it: the timer cannot fire while the opening holds the thread, so neither this
   * timeout, the load's `signal` nor `dispose()` can cut it short, and its session is kept.
   */
  readonly sessionTimeoutMs?: number;
  /**
   * Longest an `http(s)://` model folder's server may stay silent (ms, default 30 000): until it
   * answers a request, and between two chunks of a file's body, so a large file on a slow but
   * steady connection still arrives (the graph's whole download also counts against
   * `sessionTimeoutMs`). A server silent for longer fails the load with a `ModelLoadError`.
   */
  readonly fetchTimeoutMs?: number;
  /**
   * Longest `dispose()` waits for the backend (ms, default 10 000): the model's runs in flight,
   * its sessions' `release()` and a fallback's session still opening; for `weft.dispose()`, also a
   * session still opening when this load was aborted (by `weft.dispose()` or `signal`). Each is
   * normally quick; the bound is for a backend that hangs. Past it, `dispose()` resolves anyway,
   * and what is still pending is released when it settles (a session is never freed mid-run).
   */
  readonly disposeTimeoutMs?: number;
  /**
   * Stops the load: its downloads are aborted, a session still opening is released when it
   * arrives, and `load` rejects with the signal's reason (an `AbortError` `DOMException` when it
   * gives none, or `null`: nothing rejects with `null`). The runtime stays usable. Once `load` has resolved, the signal has no effect on
   * the model.
   */
  readonly signal?: AbortSignal;
}

/** How streams move between backends when one fails. */
export interface FailoverOptions {
  /** Fallback backends in order (registry names); default: every other available backend by priority. */
  readonly backends?: readonly string[];
  /**
   * A `session.run` that takes longer counts as a failure, and the stream fails over at once (or
   * fails; `evaluate` rejects). The run is abandoned, not stopped, so core's feeds and the KV store
   * are not freed under it: its step's feeds and the KV store it read (with its float16 and
   * re-rotated copies) are disposed only once the backend's own `run` settles, fulfilled or
   * rejected, and its late outputs then too. Tensors a plugin's `beforeForward` hook adds are the
   * plugin's: one it frees when `beforeForward` runs again (straight after a failover) may still be
   * read by the timed-out run. The stream does not wait: it goes on with another instance of the
   * store's registry entry, made then from the options object the request gave (read a second
   * time). Only a store instance passed in the request, which has no twin, is begun again once the
   * late run settled: the stream waits for it at most another `runTimeoutMs` (abort to stop
   * waiting), then ends with a `BackendError` (pass the store by name instead); the store is
   * released when the run settles. Until it settles, the late run counts in `activeRuns`, and
   * `dispose()` waits for it (within `disposeTimeoutMs`). A run that never settles keeps one step's
   * feeds and one cache for good.
   */
  readonly runTimeoutMs?: number;
  /**
   * Per-backend circuit breaker: opens after `failureThreshold` consecutive failures (default 3),
   * half-opens after `cooldownMs` (default 30 000 ms): one stream then tries the backend; the
   * others go on to the next until that trial succeeds, or try again after another `cooldownMs`.
   */
  readonly breaker?: { readonly failureThreshold?: number; readonly cooldownMs?: number };
}

/** A loaded model: configs, tokenizer, and generation over one backend session. */
export interface WeftModel {
  /** The model folder as given to `load()`: a path or an `http(s)://` URL. */
  readonly path: string;
  /**
   * The graph file the session was made from, relative to the folder: `onnxFile` when the load
   * named one (an absolute path or URL inside the folder made relative), else the first of
   * `onnx/model.onnx`, `onnx/decoder_model_merged.onnx`, `model.onnx` the folder has.
   */
  readonly graphFile: string;
  readonly config: ModelConfig;
  readonly generationConfig: GenerationConfig;
  readonly tokenizer: Tokenizer;
  /**
   * Name of the backend of the latest run: without failover always the loaded one; with failover,
   * where the latest run started or moved to. Each new run (and `evaluate`) starts on the first
   * backend in order whose circuit breaker allows a call, so after a one-off failure it goes back
   * to the first.
   */
  readonly backend: string;
  /** Backends passed over when loading (`auto` or by name), with reasons. */
  readonly rejectedBackends: readonly { readonly name: string; readonly reason: string }[];
  readonly layout: KvLayout;
  /**
   * The session of {@link backend} (another one after a failover). For interop and
   * diagnostics, e.g. timing a hand-written loop on the same session: Weft owns it, so never
   * release it yourself, and do not run it while a generation of this model is in flight.
   */
  readonly session: InferenceSession;
  /**
   * Generations (subscriptions of {@link generate}, {@link stream}, {@link text}) and
   * {@link evaluate} calls of this model still running, for health checks and graceful shutdown.
   * A run counts from its subscription (or call) until it has stopped using the session: an
   * unsubscribed, aborted or disposed generation ends its stream at once, but counts until the
   * forward pass it had sent has settled.
   */
  readonly activeRuns: number;
  /**
   * Cold Observable of typed events; each subscription is one run. Runs may overlap: each has its
   * own KV cache, and their forward passes take turns on the model's session.
   */
  generate(request: GenerationRequest): Observable<GenerationEvent>;
  /**
   * Text deltas of the first row, as they are produced. The loop does not wait for the reader:
   * deltas a slow reader has not taken yet are buffered, and leaving the `for await` early stops
   * the loop within one step.
   */
  stream(request: GenerationRequest): AsyncIterable<string>;
  /** The first row's full text. */
  text(request: GenerationRequest): Promise<string>;
  /** Perplexity through the incremental KV path. */
  evaluate(request: PerplexityRequest): Promise<PerplexityResult>;
  /**
   * A cache that keeps one conversation's keys and values between this model's generations: pass
   * it as `promptCache` in each request of the conversation, and each run feeds only what the
   * cache does not hold (see {@link PromptCache}). Free it with `dispose()` when the conversation
   * ends; `dispose()` of the model frees every cache it made.
   */
  createPromptCache(): PromptCache;
  /**
   * Releases the session (a fallback's still opening included, once it arrives); streams still
   * running end with `ModelDisposedError` at once. Idempotent; generation afterwards fails with a
   * clear error. Waits for the backend at most `disposeTimeoutMs` (a load option, default 10 s),
   * then resolves: a session is then released once its runs in flight settle.
   */
  dispose(): Promise<void>;
}

/**
 * A typed view of one extension point (one kind) of a runtime's registry, as the DI tokens
 * (`BACKENDS`, `TOKENIZERS`, `KV_CACHE_STORES`…) resolve it.
 */
export interface ExtensionPoint<K extends AdapterKind = AdapterKind> {
  readonly kind: K;
  /** Entries of this kind, highest priority first. */
  list(): readonly RegisteredEntry<AdapterKinds[K]>[];
  /** The best entry matching the query; throws `AdapterResolutionError` listing every rejection. */
  resolve(query?: ResolveQuery): RegisteredEntry<AdapterKinds[K]>;
  /**
   * A new instance from the entry with that name (or matching that query; default: the highest
   * priority), created with `options`. A failing `create()` or one that returns nothing becomes a
   * `PluginError` naming the plugin that registered the entry.
   */
  create(nameOrQuery?: string | ResolveQuery, options?: Readonly<Record<string, unknown>>): AdapterKinds[K];
}

/** One Weft runtime: its own container, registry, plugins and hooks. */
export interface Weft {
  readonly registry: AdapterRegistry;
  /**
   * Installs another plugin (validated, apiVersion-checked, setup run), after every install started
   * before it. Rejects with `RuntimeDisposedError` after `dispose()`, and with a `PluginError` when
   * called from a plugin's `setup` (it would wait for that setup).
   */
  use(plugin: WeftPlugin): Promise<void>;
  /**
   * Resolves once every plugin installed so far (given to `createWeft`, or to `use()` before this
   * call) has finished its setup; rejects with the first `PluginError` among `createWeft`'s plugins
   * (a `use()` reports its own failure through the promise it returned).
   */
  ready(): Promise<void>;
  /**
   * Loads a model folder: a path, an http(s):// URL, or on Node a `file:` URL string. Rejects with
   * `RuntimeDisposedError` after `dispose()`, or when `dispose()` is called before it finishes.
   */
  load(path: string, options?: LoadOptions): Promise<WeftModel>;
  /**
   * Resolves a DI token from this runtime's container, e.g. `weft.get(BACKENDS).list()`. Throws
   * `InvalidOptionsError` for a token this runtime does not bind, `RuntimeDisposedError` after
   * `dispose()`.
   */
  get<T>(token: ServiceToken<T>): T;
  /**
   * Ends the runtime: stops waiting for plugin setups, aborts loads in flight and waits for them
   * (they reject with `RuntimeDisposedError`; a session still opening is released when it arrives,
   * waited for at most the load's `disposeTimeoutMs`), then disposes every
   * model loaded through it: their running streams and later calls fail with a
   * `ModelDisposedError` saying to create a new runtime with `createWeft()`. Idempotent;
   * afterwards `load`, `use` and `get` fail with `RuntimeDisposedError`.
   */
  dispose(): Promise<void>;
}
