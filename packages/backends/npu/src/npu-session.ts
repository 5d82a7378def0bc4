import { BackendError, type BackendTensor, type InferenceSession, type TensorDataType, type TensorDataTypeMap, type ValueInfo } from '@weft/core';
import type { ProviderRejection } from './events.js';
import type { DeviceClass, ProviderName } from './providers.js';

/** The session the npu adapter returns: the provider's session, plus which provider it runs on. */
export class NpuSession implements InferenceSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly ValueInfo[];
  readonly outputMetadata: readonly ValueInfo[];
  /** The provider session's own `garbageCollectedTensors` (its tensors are this session's). */
  readonly garbageCollectedTensors: boolean;
  /** The provider session's own `watchesRunSignal` (the runs, and their signals, are its). */
  readonly watchesRunSignal: boolean;
  /** Set by the first `release()`; every later call returns it. */
  private releasing: Promise<void> | undefined;

  constructor(
    /** The provider's own session. */
    readonly inner: InferenceSession,
    /** The provider the session was created with. */
    readonly provider: ProviderName,
    /** The hardware that provider targets (nodes it does not support run on the CPU). */
    readonly device: DeviceClass,
    /** Providers passed over before this one, and why. */
    readonly rejected: readonly ProviderRejection[],
  ) {
    this.inputNames = inner.inputNames;
    this.outputNames = inner.outputNames;
    this.inputMetadata = inner.inputMetadata;
    this.outputMetadata = inner.outputMetadata;
    this.garbageCollectedTensors = inner.garbageCollectedTensors === true;
    this.watchesRunSignal = inner.watchesRunSignal === true;
  }

  createTensor<T extends TensorDataType>(type: T, data: TensorDataTypeMap[T], dims: readonly number[]): BackendTensor<T> {
    return this.inner.createTensor(type, data, dims);
  }

  run(
    feeds: Readonly<Record<string, BackendTensor>>,
    options?: { readonly signal?: AbortSignal; readonly fetches?: readonly string[] },
  ): Promise<Record<string, BackendTensor>> {
    if (this.releasing) return Promise.reject(new BackendError('This session was released; load the model again.', { backend: 'npu' }));
    return this.inner.run(feeds, options);
  }

  /** Releases the provider's session once, whatever its own `release()` does when called again; every call returns the first call's promise. */
  release(): Promise<void> {
    if (this.releasing === undefined) {
      try {
        this.releasing = Promise.resolve(this.inner.release());
      } catch (cause) {
        this.releasing = Promise.reject(cause);
      }
    }
    return this.releasing;
  }
}
