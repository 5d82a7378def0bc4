/**
 * @weft/backend-npu — Weft backend for NPUs through onnxruntime execution providers, with an
 * ordered fallback chain that ends on the CPU and reports every provider it passes over.
 */
export { npuBackend } from './npu-backend-plugin.js';
export { NpuBackendAdapter } from './npu-backend-adapter.js';
export { NpuSession } from './npu-session.js';
export { validateNpuOptions, type NpuAdapterOptions, type NpuBackendOptions } from './npu-backend-options.js';
export type { NpuEvent, ProviderRejection } from './events.js';
export { planProviders, preferredProviders, type PlannedProvider, type ProviderPlan, type PlanOptions, type SkippedProvider } from './plan.js';
export { detectPlatformFacts, type PlatformFacts, type NpuPlatform, type NpuArch, type RuntimeProvider } from './platform.js';
export { defaultSessionFactory, toOrtNodeSessionOptions, toWebBackendOptions, type NpuSessionFactory, type NpuWebBackendOptions, type SessionRequest } from './session-factory.js';
export {
  NPU_PROVIDERS,
  PROVIDERS,
  PROVIDER_RUNTIME,
  deviceClass,
  toOrtProvider,
  validateProvider,
  type CoreMlProviderOptions,
  type CpuProviderOptions,
  type DeviceClass,
  type DmlProviderOptions,
  type NnapiProviderOptions,
  type NpuProviderName,
  type NpuProviderOptions,
  type OpenVinoProviderOptions,
  type OrtProviderConfig,
  type OrtProviderConfigMap,
  type ProviderName,
  type ProviderOptions,
  type ProviderRuntime,
  type QnnProviderOptions,
  type WasmProviderOptions,
  type WebNnNpuProviderOptions,
} from './providers.js';
export { VERSION } from './version.js';
