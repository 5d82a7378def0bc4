/**
 * @weft/backend-web — Weft backend on onnxruntime-web. Browser-safe: nothing here imports a
 * Node.js module; under Node.js, model files are read through `process.getBuiltinModule`.
 */
export { webBackend } from './web-backend-plugin.js';
export { WebBackendAdapter, toOrtWebOptions } from './web-backend-adapter.js';
export { WebSession } from './web-session.js';
export { detectEnvironment, wasmThreadsAllowed, type WebEnvironment, type GpuLike, type MlLike } from './environment.js';
export { probeWebProviders, availableProviders, describeProbe, type ProviderStatus, type WebProviderProbe } from './probe.js';
export {
  WEB_PROVIDERS,
  validateWebOptions,
  normaliseProviders,
  type WebBackendOptions,
  type WebAdapterOptions,
  type WebExecutionProvider,
  type WebProviderConfig,
  type WebProviderName,
  type WasmProviderOptions,
  type WebGpuProviderOptions,
  type WebNnProviderOptions,
  type WasmPaths,
  type WebRuntimeLoader,
} from './web-backend-options.js';
export { wasmThreadsInUse } from './load-runtime.js';
export { VERSION } from './version.js';
