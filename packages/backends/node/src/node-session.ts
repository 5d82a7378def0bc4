import {
  BackendError,
  type BackendTensor,
  type InferenceSession,
  type TensorDataType,
  type TensorDataTypeMap,
  type ValueInfo,
} from '@weft/core';
import type * as ortTypes from 'onnxruntime-node';

type Ort = typeof import('onnxruntime-node');

/**
 * An onnxruntime-node session behind Weft's `InferenceSession`. Tensors are onnxruntime's own
 * (they satisfy `BackendTensor` as they are), so outputs can be fed back without copies.
 */
export class NodeSession implements InferenceSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly ValueInfo[];
  readonly outputMetadata: readonly ValueInfo[];
  /**
   * onnxruntime-node's tensors are JavaScript memory only: inputs wrap the typed arrays given, and
   * outputs are copied into new ArrayBuffers. Disposing one frees nothing, so Weft drops them.
   */
  readonly garbageCollectedTensors = true;
  /** Set by the first `release()`; every later call returns it, so none resolves before the release. */
  private releasing: Promise<void> | undefined;
  /**
   * onnxruntime runs started and not yet settled. `release` waits for them: onnxruntime-node runs
   * the graph on a later turn of the event loop (setImmediate), so a session freed before then
   * failed the run with "Session already disposed.".
   */
  private running = 0;
  /** Set while a `release` waits for `running` to reach 0. */
  private drained: (() => void) | undefined;
  // One pair of functions for every run (no closure per run).
  private readonly finished = (outputs: ortTypes.InferenceSession.ReturnType): Record<string, BackendTensor> => {
    this.settled();
    // Released meanwhile: the run was let finish, but it fails, as a web session's does. A plain
    // Error, like onnxruntime's own: Weft reports a run that fails after its model was disposed as
    // `ModelDisposedError`.
    if (this.releasing) throw new Error('This session was released while it ran; load the model again.');
    return outputs as unknown as Record<string, BackendTensor>;
  };
  private readonly failed = (cause: unknown): never => {
    this.settled();
    throw cause;
  };

  /**
   * @param ortSession The onnxruntime-node session this wraps, public for interop (e.g. a
   *   hand-written loop timed on the same session). Releasing it is this object's job.
   */
  constructor(
    private readonly ort: Ort,
    readonly ortSession: ortTypes.InferenceSession,
  ) {
    this.inputNames = ortSession.inputNames;
    this.outputNames = ortSession.outputNames;
    this.inputMetadata = ortSession.inputMetadata.map(toValueInfo);
    this.outputMetadata = ortSession.outputMetadata.map(toValueInfo);
  }

  createTensor<T extends TensorDataType>(type: T, data: TensorDataTypeMap[T], dims: readonly number[]): BackendTensor<T> {
    return new this.ort.Tensor(type, data as never, dims) as unknown as BackendTensor<T>;
  }

  run(
    feeds: Readonly<Record<string, BackendTensor>>,
    options: { readonly signal?: AbortSignal; readonly fetches?: readonly string[] } = {},
  ): Promise<Record<string, BackendTensor>> {
    if (this.releasing) return Promise.reject(new BackendError('This session was released; load the model again.', { backend: 'node' }));
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    const ortFeeds = feeds as unknown as Record<string, ortTypes.Tensor>;
    const outputs = options.fetches ? this.ortSession.run(ortFeeds, [...options.fetches]) : this.ortSession.run(ortFeeds);
    this.running++;
    return outputs.then(this.finished, this.failed);
  }

  /**
   * Frees the onnxruntime session. New runs are refused at once; runs already started are let
   * finish (they then reject), and the session is freed once they have settled. Every call returns
   * the first call's promise.
   */
  release(): Promise<void> {
    if (this.releasing === undefined) {
      this.releasing =
        this.running === 0
          ? this.releaseNow()
          : new Promise<void>((resolve) => (this.drained = resolve)).then(() => this.releaseNow());
    }
    return this.releasing;
  }

  private settled(): void {
    if (--this.running === 0) this.drained?.();
  }

  private releaseNow(): Promise<void> {
    try {
      return Promise.resolve(this.ortSession.release());
    } catch (cause) {
      return Promise.reject(cause);
    }
  }
}

function toValueInfo(meta: ortTypes.InferenceSession.ValueMetadata): ValueInfo {
  if (!meta.isTensor) return { name: meta.name };
  return { name: meta.name, type: meta.type as TensorDataType, shape: meta.shape.length > 0 ? meta.shape : undefined };
}
