/**
 * Backend contract: how core talks to an inference runtime (onnxruntime-node, onnxruntime-web, NPU
 * execution providers…). Core never imports a runtime; backends implement these types.
 *
 * Tensors are structural: an onnxruntime `Tensor` satisfies {@link BackendTensor} as it is, so a
 * backend can hand its own tensors to core and take them back as feeds without copying.
 */

/** Element types core exchanges with backends. */
export type TensorDataType = 'float32' | 'float16' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';

/** The typed array behind each {@link TensorDataType}. */
export interface TensorDataTypeMap {
  float32: Float32Array;
  float16: Uint16Array;
  int64: BigInt64Array;
  int32: Int32Array;
  int8: Int8Array;
  uint8: Uint8Array;
  bool: Uint8Array;
}

/**
 * A CPU-readable tensor owned by a backend. Call `dispose()` once it is no longer needed. The
 * `data` of an output tensor must stay readable after `dispose()` (a JS-owned array, as
 * onnxruntime-node and onnxruntime-web return): core keeps views of logits rows, e.g. for the
 * lazily computed logprob of a token event.
 */
export interface BackendTensor<T extends TensorDataType = TensorDataType> {
  readonly type: T;
  readonly dims: readonly number[];
  readonly data: TensorDataTypeMap[T];
  dispose(): void;
}

/**
 * A file an ONNX graph reads tensors from (its weights, in exports over 2 GB), by the name the
 * graph gives it (`location`, relative to the graph's folder, e.g. `model.onnx_data`).
 */
export interface ExternalDataFile {
  readonly path: string;
  readonly data: Uint8Array;
}

/**
 * Where a model comes from: a graph file (whose external data files, if any, lie beside it), or
 * the graph's bytes together with the external data files it names.
 */
export type ModelSource =
  | { readonly kind: 'path'; readonly path: string }
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array; readonly externalData?: readonly ExternalDataFile[] };

/** Graph optimisation levels, as onnxruntime names them. */
export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

/**
 * How much the runtime itself writes to stderr, least to most severe: `warning` and below include
 * graph-loading notices; at `error` a failing run is logged by the runtime as well as thrown.
 */
export type LogLevel = 'verbose' | 'info' | 'warning' | 'error' | 'fatal';

/** Options every backend understands; backends may accept more through their own option types. */
export interface SessionOptions {
  readonly intraOpNumThreads?: number;
  readonly interOpNumThreads?: number;
  readonly graphOptimizationLevel?: GraphOptimizationLevel;
  /** Execution providers in order of preference, e.g. `['cpu']`. Backend-specific names. */
  readonly executionProviders?: readonly string[];
  /**
   * The runtime's own log output (default `error`: no graph-loading warnings). Failures reach the
   * caller as typed errors whatever the level; `fatal` also stops the runtime from printing them.
   */
  readonly logLevel?: LogLevel;
}

/** Input or output description read from the graph. */
export interface ValueInfo {
  readonly name: string;
  /** Element type where the graph declares a tensor, else undefined. */
  readonly type?: TensorDataType | undefined;
  /** Symbolic dims are strings, fixed dims numbers; undefined when the runtime does not say. */
  readonly shape?: readonly (number | string)[] | undefined;
}

/** One loaded graph. */
export interface InferenceSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly ValueInfo[];
  readonly outputMetadata: readonly ValueInfo[];
  /**
   * `true` when every tensor this session creates or returns is plain JavaScript memory, with no
   * native or GPU resource behind it (onnxruntime-node's CPU tensors): disposing one only drops
   * references the garbage collector drops anyway. Weft's loop, the built-in store and
   * `evaluate` then leave this session's tensors to the collector instead of calling `dispose()`
   * (on onnxruntime's tensors each call adds fields, ~20 of them per decode step). Leave it unset
   * when any tensor may hold device memory; callers then dispose every tensor.
   */
  readonly garbageCollectedTensors?: boolean;
  /**
   * `true` when this session reads a run's `signal` after `run` has returned: it queues runs (the
   * web backend runs one pass at a time) or can cancel one in flight. Weft then gives each
   * generation's runs a signal of its own, aborted as soon as the generation stops waiting for
   * them (aborted, unsubscribed, the model disposed), so a queued pass nobody will read is
   * refused. Unset (onnxruntime-node, which starts every run at once and cannot cancel it), runs
   * get the request's own signal, or the model's disposal signal: no AbortController per
   * request, which cost 14–46 µs before the first token (measured, docs/benchmarks.md).
   */
  readonly watchesRunSignal?: boolean;
  /** Creates a tensor in the backend's own representation (no copy of `data`). */
  createTensor<T extends TensorDataType>(type: T, data: TensorDataTypeMap[T], dims: readonly number[]): BackendTensor<T>;
  /**
   * Runs the graph. Output tensors belong to the caller, who disposes them.
   * Settle the promise on a macrotask (e.g. after `setImmediate`), not through microtasks alone:
   * generation awaits one run per step, and a run that never yields to the event loop keeps abort
   * signals, timers and Ctrl-C out until the whole generation ends.
   *
   * `signal`: Weft's generation loop passes the request's own signal, or, for a request without
   * one, the model's disposal signal (neither costs a controller per request); a session that
   * sets {@link watchesRunSignal} gets a signal of the generation's own instead, which also aborts
   * on unsubscribe. When the request is aborted or unsubscribed, or the model disposed, Weft stops
   * waiting for the run at once (its stream ends), and disposes the outputs when the run settles,
   * however late; it keeps the feeds alive until then. Disposing calls `release()`, where a
   * backend that can cancel its runs may. A backend that can cancel a run in flight may do so and
   * reject (with any error: it is not reported); one that cannot (onnxruntime) may ignore the
   * signal, or refuse a run whose signal is already aborted. `fetches`: output names to compute
   * (default: all).
   */
  run(
    feeds: Readonly<Record<string, BackendTensor>>,
    options?: { readonly signal?: AbortSignal; readonly fetches?: readonly string[] },
  ): Promise<Record<string, BackendTensor>>;
  /**
   * Frees the native session. Idempotent: every call returns the first call's promise. Runs asked
   * for afterwards are refused; runs already started should be let finish before the native
   * session is freed (then reject): `RunsInFlight` does this bookkeeping. A model's `dispose()`
   * waits for this promise at most `disposeTimeoutMs` (default 10 s; a hung run would otherwise
   * hold it forever), then resolves: the release must still free the session once it can.
   */
  release(): Promise<void>;
}

/** Result of asking a backend whether it can run here. */
export interface BackendProbe {
  readonly available: boolean;
  /** Why it is unavailable (or notes on a degraded mode). */
  readonly reason?: string | undefined;
  /** Execution providers the installed runtime offers here, best first. */
  readonly executionProviders?: readonly string[];
}

/** A runtime adapter registered under the `backend` kind. */
export interface BackendAdapter {
  readonly specificationVersion: 'v1';
  /** Registry name, e.g. `node`, `web`, `npu`. */
  readonly name: string;
  /** Whether this backend can run in the current process; never throws. */
  probe(): Promise<BackendProbe>;
  createSession(source: ModelSource, options?: SessionOptions): Promise<InferenceSession>;
  /**
   * Optional: throws (an `InvalidOptionsError` naming the option) when `createSession` would
   * refuse `options`, e.g. a provider name this backend does not have, without opening a session
   * or reading a graph. Core asks each failover fallback at load, as fallbacks get the load's
   * session options: one that refuses them is left out of failover. Without it, core compares the
   * options' `executionProviders` with the probe's.
   */
  validateSessionOptions?(options: SessionOptions): void | Promise<void>;
  /**
   * `false` when `createSession` cannot take a graph's external data files as bytes
   * (`ModelSource.externalData`) and reads them only from disk, beside a graph path, as
   * onnxruntime-node does. Core then passes this backend over for a URL folder whose graph keeps
   * its tensors in such files, before it downloads them. Unset means it takes them.
   */
  readonly externalDataFromBytes?: boolean;
}
