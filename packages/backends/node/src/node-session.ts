import {
  BackendError,
  RunsInFlight,
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
  /** onnxruntime runs started and not yet settled, which `release` waits for. */
  private readonly runs = new RunsInFlight(undefined, 'node');

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

  /**
   * Runs the graph on onnxruntime-node. onnxruntime cannot cancel a run once started, so `signal`
   * is read only here: an aborted one refuses the run (rejecting with its reason); a run already
   * started finishes whatever the signal does (Weft stops waiting for it and disposes its outputs).
   */
  run(
    feeds: Readonly<Record<string, BackendTensor>>,
    options: { readonly signal?: AbortSignal; readonly fetches?: readonly string[] } = {},
  ): Promise<Record<string, BackendTensor>> {
    if (this.releasing) return Promise.reject(new BackendError('This session was released; load the model again.', { backend: 'node' }));
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    const ortFeeds = feeds as unknown as Record<string, ortTypes.Tensor>;
    const outputs = options.fetches ? this.ortSession.run(ortFeeds, [...options.fetches]) : this.ortSession.run(ortFeeds);
    return this.runs.track(outputs) as unknown as Promise<Record<string, BackendTensor>>;
  }

  /**
   * Frees the onnxruntime session. New runs are refused at once; runs already started are let
   * finish (they then reject), and the session is freed once they have settled. Every call returns
   * the first call's promise.
   */
  release(): Promise<void> {
    this.releasing ??= this.runs.closeThen(() => this.ortSession.release());
    return this.releasing;
  }
}

function toValueInfo(meta: ortTypes.InferenceSession.ValueMetadata): ValueInfo {
  if (!meta.isTensor) return { name: meta.name };
  return { name: meta.name, type: meta.type as TensorDataType, shape: meta.shape.length > 0 ? meta.shape : undefined };
}
