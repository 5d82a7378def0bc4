/**
 * The facts about the JavaScript environment the web backend depends on, read from `globalThis`.
 * Everything is feature-detected (never imported), so this file is safe in any bundle; tests pass
 * their own {@link WebEnvironment} to the adapter instead of patching globals.
 */

/** The part of `navigator.gpu` (WebGPU) the probe uses. */
export interface GpuLike {
  requestAdapter(options?: { readonly powerPreference?: 'low-power' | 'high-performance' }): Promise<unknown>;
}

/** The part of `navigator.ml` (WebNN) the probe uses. */
export interface MlLike {
  createContext(options?: { readonly deviceType?: 'cpu' | 'gpu' | 'npu' }): Promise<unknown>;
}

/** What this JavaScript environment offers onnxruntime-web, as `detectEnvironment` reads it. */
export interface WebEnvironment {
  /** Running under Node.js (`process.versions.node` is set). */
  readonly node: boolean;
  /** `WebAssembly` is defined. */
  readonly webAssembly: boolean;
  /** `SharedArrayBuffer` is defined (needed for wasm threads). */
  readonly sharedArrayBuffer: boolean;
  /**
   * `self.crossOriginIsolated` in browsers and workers; `undefined` where there is no `self`
   * (Node.js), which onnxruntime-web treats as "threads allowed".
   */
  readonly crossOriginIsolated: boolean | undefined;
  /** `navigator.hardwareConcurrency`, or the CPU count under Node.js when known. */
  readonly hardwareConcurrency: number | undefined;
  /** `navigator.gpu` when defined. */
  readonly gpu: GpuLike | undefined;
  /** `navigator.ml` when defined. */
  readonly ml: MlLike | undefined;
}

interface ProcessLike {
  readonly versions?: { readonly node?: string };
  getBuiltinModule?(id: string): unknown;
}

interface ScopeLike {
  readonly process?: ProcessLike;
  readonly navigator?: { readonly gpu?: GpuLike; readonly ml?: MlLike; readonly hardwareConcurrency?: number };
  readonly self?: { readonly crossOriginIsolated?: boolean };
  readonly WebAssembly?: unknown;
  readonly SharedArrayBuffer?: unknown;
}

/** Reads the environment from `scope` (default `globalThis`). Never throws. */
export function detectEnvironment(scope: object = globalThis): WebEnvironment {
  const g = scope as ScopeLike;
  const node = typeof g.process?.versions?.node === 'string';
  const nav = g.navigator;
  return {
    node,
    webAssembly: typeof g.WebAssembly === 'object' && g.WebAssembly !== null,
    sharedArrayBuffer: typeof g.SharedArrayBuffer === 'function',
    crossOriginIsolated: g.self === undefined ? undefined : g.self.crossOriginIsolated === true,
    hardwareConcurrency: nav?.hardwareConcurrency ?? (node ? nodeCpuCount(g.process) : undefined),
    gpu: nav?.gpu ?? undefined,
    ml: nav?.ml ?? undefined,
  };
}

/** Whether onnxruntime-web can run wasm on several threads here (its own rule). */
export function wasmThreadsAllowed(env: WebEnvironment): boolean {
  return env.webAssembly && env.sharedArrayBuffer && env.crossOriginIsolated !== false;
}

/** Node's `node:os` through `process.getBuiltinModule` (Node >= 20.16), so nothing is imported. */
export function nodeBuiltin<T>(id: string, scope: object = globalThis): T | undefined {
  const proc = (scope as ScopeLike).process;
  if (typeof proc?.versions?.node !== 'string' || typeof proc.getBuiltinModule !== 'function') return undefined;
  return proc.getBuiltinModule(id) as T | undefined;
}

function nodeCpuCount(proc: ProcessLike | undefined): number | undefined {
  if (typeof proc?.getBuiltinModule !== 'function') return undefined;
  const os = proc.getBuiltinModule('node:os') as { availableParallelism?: () => number; cpus?: () => unknown[] } | undefined;
  return os?.availableParallelism?.() ?? os?.cpus?.().length;
}
