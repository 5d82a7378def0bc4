import { wasmThreadsAllowed, type WebEnvironment } from './environment.js';
import type { WebProviderConfig, WebProviderName } from './web-backend-options.js';

/** Whether one provider can run here, and why not (or notes on a degraded mode). */
export interface ProviderStatus {
  readonly available: boolean;
  readonly reason?: string;
}

/** Per-provider result of {@link probeWebProviders}. */
export interface WebProviderProbe {
  readonly wasm: ProviderStatus & { readonly threads: boolean };
  readonly webgpu: ProviderStatus;
  readonly webnn: ProviderStatus;
}

/**
 * Checks each provider against the environment: wasm needs `WebAssembly` (threads also need
 * `SharedArrayBuffer` and cross-origin isolation); WebGPU needs `navigator.gpu` with an adapter;
 * WebNN needs `navigator.ml` that can create a context of `webnnDeviceType`. onnxruntime-web's
 * Node.js build has only wasm, so under Node the other two are unavailable whatever the globals say.
 * Never throws.
 */
export async function probeWebProviders(env: WebEnvironment, webnnDeviceType?: 'cpu' | 'gpu' | 'npu'): Promise<WebProviderProbe> {
  return { wasm: probeWasm(env), webgpu: await probeWebGpu(env), webnn: await probeWebNn(env, webnnDeviceType) };
}

/**
 * Checks one configured provider (a `webnn` entry with its `deviceType`), touching nothing the
 * others need: a wasm-only backend never calls `navigator.gpu` or `navigator.ml`. Never throws.
 */
export async function probeWebProvider(env: WebEnvironment, provider: WebProviderConfig): Promise<ProviderStatus> {
  switch (provider.name) {
    case 'wasm':
      return probeWasm(env);
    case 'webgpu':
      return probeWebGpu(env);
    case 'webnn':
      return probeWebNn(env, provider.deviceType);
  }
}

function probeWasm(env: WebEnvironment): WebProviderProbe['wasm'] {
  if (!env.webAssembly) return { available: false, threads: false, reason: 'WebAssembly is not available in this environment' };
  if (wasmThreadsAllowed(env)) return { available: true, threads: true };
  const reason = !env.sharedArrayBuffer
    ? 'single-threaded: SharedArrayBuffer is not available'
    : 'single-threaded: the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';
  return { available: true, threads: false, reason };
}

async function probeWebGpu(env: WebEnvironment): Promise<ProviderStatus> {
  if (env.node) return { available: false, reason: "onnxruntime-web's Node.js build has no WebGPU (use @weft/backend-node for GPU providers in Node)" };
  if (!env.gpu) return { available: false, reason: 'navigator.gpu is undefined (no WebGPU in this browser, or it is disabled)' };
  try {
    const adapter = await env.gpu.requestAdapter();
    return adapter ? { available: true } : { available: false, reason: 'navigator.gpu.requestAdapter() found no adapter' };
  } catch (error) {
    return { available: false, reason: `navigator.gpu.requestAdapter() failed: ${(error as Error).message}` };
  }
}

async function probeWebNn(env: WebEnvironment, deviceType: 'cpu' | 'gpu' | 'npu' | undefined): Promise<ProviderStatus> {
  if (env.node) return { available: false, reason: "onnxruntime-web's Node.js build has no WebNN" };
  if (!env.ml) return { available: false, reason: 'navigator.ml is undefined (WebNN is not enabled in this browser)' };
  const what = deviceType ? `navigator.ml.createContext({ deviceType: '${deviceType}' })` : 'navigator.ml.createContext()';
  try {
    await env.ml.createContext(deviceType ? { deviceType } : {});
    return { available: true };
  } catch (error) {
    return { available: false, reason: `${what} failed: ${(error as Error).message}` };
  }
}

/** Providers available in a probe, best first (WebGPU, WebNN, wasm). */
export function availableProviders(probe: WebProviderProbe): WebProviderName[] {
  return (['webgpu', 'webnn', 'wasm'] as const).filter((p) => probe[p].available);
}

/** One line per provider that is unavailable or degraded. */
export function describeProbe(probe: WebProviderProbe): string | undefined {
  const notes = (['wasm', 'webgpu', 'webnn'] as const)
    .filter((p) => probe[p].reason !== undefined)
    .map((p) => `${p}: ${probe[p].available ? '' : 'unavailable, '}${probe[p].reason}`);
  return notes.length > 0 ? notes.join('; ') : undefined;
}
