import type { BackendTensor, InferenceSession, TensorDataType, TensorDataTypeMap, ValueInfo } from '@weft/core';
import type { ProviderRejection } from './events.js';
import type { DeviceClass, ProviderName } from './providers.js';

/** The session the npu adapter returns: the provider's session, plus which provider it runs on. */
export class NpuSession implements InferenceSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly ValueInfo[];
  readonly outputMetadata: readonly ValueInfo[];

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
  }

  createTensor<T extends TensorDataType>(type: T, data: TensorDataTypeMap[T], dims: readonly number[]): BackendTensor<T> {
    return this.inner.createTensor(type, data, dims);
  }

  run(
    feeds: Readonly<Record<string, BackendTensor>>,
    options?: { readonly signal?: AbortSignal; readonly fetches?: readonly string[] },
  ): Promise<Record<string, BackendTensor>> {
    return this.inner.run(feeds, options);
  }

  release(): Promise<void> {
    return this.inner.release();
  }
}
