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

/** An onnxruntime-node session behind Weft's `InferenceSession` (tensors are onnxruntime's own). */
export class OrtNodeSession implements InferenceSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly ValueInfo[];
  readonly outputMetadata: readonly ValueInfo[];
  /**
   * onnxruntime-node's tensors are JavaScript memory on every provider: inputs wrap the given
   * typed arrays and outputs are copied into new ones, so Weft drops them instead of disposing.
   */
  readonly garbageCollectedTensors = true;
  /** Set by the first `release()`; every later call returns it, so none resolves before the release. */
  private releasing: Promise<void> | undefined;
  /** onnxruntime runs started and not yet settled, which `release` waits for. */
  private readonly runs = new RunsInFlight(undefined, 'npu');

  constructor(
    private readonly ort: Ort,
    private readonly session: ortTypes.InferenceSession,
  ) {
    this.inputNames = session.inputNames;
    this.outputNames = session.outputNames;
    this.inputMetadata = session.inputMetadata.map(toValueInfo);
    this.outputMetadata = session.outputMetadata.map(toValueInfo);
  }

  createTensor<T extends TensorDataType>(type: T, data: TensorDataTypeMap[T], dims: readonly number[]): BackendTensor<T> {
    return new this.ort.Tensor(type, data as never, dims) as unknown as BackendTensor<T>;
  }

  async run(
    feeds: Readonly<Record<string, BackendTensor>>,
    options: { readonly signal?: AbortSignal; readonly fetches?: readonly string[] } = {},
  ): Promise<Record<string, BackendTensor>> {
    if (this.releasing) throw new BackendError('This session was released; load the model again.', { backend: 'npu' });
    options.signal?.throwIfAborted();
    const ortFeeds = feeds as unknown as Record<string, ortTypes.Tensor>;
    const outputs = await this.runs.track(options.fetches ? this.session.run(ortFeeds, [...options.fetches]) : this.session.run(ortFeeds));
    return outputs as unknown as Record<string, BackendTensor>;
  }

  /**
   * Frees the onnxruntime session. New runs are refused at once; runs already started are let
   * finish (they then reject), and the session is freed once they have settled (onnxruntime-node
   * runs the graph a turn after `run` is called, and failed a run whose session was freed before
   * then). Every call returns the first call's promise.
   */
  release(): Promise<void> {
    this.releasing ??= this.runs.closeThen(() => this.session.release());
    return this.releasing;
  }
}

function toValueInfo(meta: ortTypes.InferenceSession.ValueMetadata): ValueInfo {
  if (!meta.isTensor) return { name: meta.name };
  return { name: meta.name, type: meta.type as TensorDataType, shape: meta.shape.length > 0 ? meta.shape : undefined };
}
