import {
  BackendError,
  type BackendTensor,
  type InferenceSession,
  type TensorDataType,
  type TensorDataTypeMap,
  type ValueInfo,
} from '@weft/core';
import type * as ortTypes from 'onnxruntime-web';
import { yieldToEventLoop } from './yield-to-event-loop.js';

type Ort = typeof import('onnxruntime-web');

/**
 * An onnxruntime-web session behind Weft's `InferenceSession`. Tensors are onnxruntime-web's own
 * CPU tensors (they satisfy `BackendTensor` as they are), so outputs are fed back without copies.
 */
export class WebSession implements InferenceSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly ValueInfo[];
  readonly outputMetadata: readonly ValueInfo[];
  /**
   * Every tensor here is CPU memory in JavaScript: inputs wrap the typed arrays given, and Weft
   * never asks for device-resident outputs (`preferredOutputLocation` stays `cpu`), so
   * onnxruntime-web returns outputs as typed arrays whatever the provider. Disposing one frees
   * nothing, so Weft drops them.
   */
  readonly garbageCollectedTensors = true;
  private released = false;

  constructor(
    private readonly ort: Ort,
    private readonly session: ortTypes.InferenceSession,
    /** The providers the session was created with, in order of preference. */
    readonly executionProviders: readonly string[],
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
    if (this.released) throw new BackendError('This session was released; load the model again.', { backend: 'web' });
    options.signal?.throwIfAborted();
    const ortFeeds = feeds as unknown as Record<string, ortTypes.Tensor>;
    const outputs = options.fetches ? await this.session.run(ortFeeds, [...options.fetches]) : await this.session.run(ortFeeds);
    // Let the event loop in between steps (abort signals, timers, Ctrl-C, UI events).
    await yieldToEventLoop();
    return outputs as unknown as Record<string, BackendTensor>;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.session.release();
  }
}

function toValueInfo(meta: ortTypes.InferenceSession.ValueMetadata): ValueInfo {
  if (!meta.isTensor) return { name: meta.name };
  return { name: meta.name, type: meta.type as TensorDataType, shape: meta.shape.length > 0 ? meta.shape : undefined };
}
