import type { PlannedProvider, SkippedProvider } from './plan.js';
import type { DeviceClass, OrtProviderConfig, ProviderName } from './providers.js';
import type { NpuPlatform, NpuArch } from './platform.js';

/** A provider the adapter did not end up using, and why (skipped at planning or failed to load). */
export interface ProviderRejection {
  readonly provider: ProviderName;
  readonly stage: 'plan' | 'session';
  readonly reason: string;
}

/**
 * What the npu adapter reports while it chooses a provider, in order: one `plan`, a
 * `provider-skipped` per provider that cannot run here, then per provider tried a
 * `provider-attempt` followed by `provider-failed` or `provider-selected`. If every provider fails,
 * `exhausted` comes last and `createSession` throws a `BackendError` listing the same rejections.
 */
export type NpuEvent =
  | {
      readonly type: 'plan';
      readonly platform: NpuPlatform;
      readonly arch: NpuArch;
      readonly chain: readonly PlannedProvider[];
      readonly skipped: readonly SkippedProvider[];
    }
  | { readonly type: 'provider-skipped'; readonly provider: ProviderName; readonly reason: string }
  | { readonly type: 'provider-attempt'; readonly provider: ProviderName; readonly device: DeviceClass; readonly ort: OrtProviderConfig }
  | { readonly type: 'provider-failed'; readonly provider: ProviderName; readonly reason: string; readonly error: unknown }
  | {
      readonly type: 'provider-selected';
      readonly provider: ProviderName;
      readonly device: DeviceClass;
      /** True when any provider preferred over it was skipped at planning or failed to load. */
      readonly fallback: boolean;
      readonly rejected: readonly ProviderRejection[];
    }
  | { readonly type: 'exhausted'; readonly rejected: readonly ProviderRejection[] };
