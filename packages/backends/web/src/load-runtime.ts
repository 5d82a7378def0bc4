import { BackendError, InvalidOptionsError } from '@weft/core';
import type { WasmPaths } from './web-backend-options.js';

type Ort = typeof import('onnxruntime-web');

/** The process-wide wasm settings onnxruntime-web reads once, when it first initialises. */
export interface WasmSettings {
  readonly numThreads?: number | undefined;
  readonly wasmPaths?: WasmPaths | undefined;
}

let runtime: Promise<Ort> | undefined;
/**
 * Settings in force once a session has been created (onnxruntime-web cannot change them after).
 * `requested` is the thread count asked for, which onnxruntime-web lowers to 1 where wasm threads
 * are not supported: asking for it again is no change.
 */
let frozen:
  | { readonly numThreads: number | undefined; readonly requested: number | undefined; readonly threadsSupported: boolean; readonly wasmPaths: string | undefined }
  | undefined;
/** The thread count last written into `env.wasm.numThreads`, before onnxruntime-web read it. */
let requested: number | undefined;
/**
 * Why onnxruntime-web's wasm threads could not start, once that happened: its initialisation
 * then never ends, and every later session would wait on it, so they fail with this at once.
 */
let threadsFailure: string | undefined;

/**
 * Loads onnxruntime-web once, on first use. Bundlers resolve `onnxruntime-web` to its browser
 * build (wasm, WebGPU, WebNN); Node.js resolves its Node build (wasm only).
 */
export function loadRuntime(): Promise<Ort> {
  runtime ??= import('onnxruntime-web')
    .then((m) => ((m as { default?: Ort }).default ?? m) as Ort)
    .catch((cause: unknown) => {
      runtime = undefined;
      throw new BackendError(`onnxruntime-web could not be loaded: ${(cause as Error).message}. Install onnxruntime-web ~1.30.`, { backend: 'web', cause });
    });
  return runtime;
}

/**
 * Applies wasm settings before a session is created. Until the first session exists the last
 * caller wins; afterwards a different explicit value is an `InvalidOptionsError`, because
 * onnxruntime-web would silently keep the old one.
 */
export function applyWasmSettings(ort: Ort, settings: WasmSettings): void {
  const paths = settings.wasmPaths === undefined ? undefined : JSON.stringify(settings.wasmPaths);
  if (frozen) {
    const threads = settings.numThreads;
    // Without wasm threads onnxruntime-web runs one thread whatever is asked: no value changes anything.
    if (threads !== undefined && threads !== 0 && threads !== frozen.numThreads && threads !== frozen.requested && frozen.threadsSupported) {
      throw new InvalidOptionsError(
        `onnxruntime-web is already running with numThreads = ${frozen.numThreads ?? 'its default'} in this process; it cannot switch to ${settings.numThreads}. Give every web backend the same numThreads.`,
        { option: 'numThreads' },
      );
    }
    if (paths !== undefined && paths !== frozen.wasmPaths) {
      throw new InvalidOptionsError('onnxruntime-web already loaded its wasm files from other wasmPaths in this process; give every web backend the same wasmPaths.', {
        option: 'wasmPaths',
      });
    }
    return;
  }
  if (settings.numThreads !== undefined && settings.numThreads !== 0) {
    ort.env.wasm.numThreads = settings.numThreads;
    requested = settings.numThreads;
  }
  if (settings.wasmPaths !== undefined) ort.env.wasm.wasmPaths = settings.wasmPaths as NonNullable<Ort['env']['wasm']['wasmPaths']>;
}

/**
 * Records the settings onnxruntime-web initialised with. Called after every session attempt; it
 * only takes effect once onnxruntime-web has initialised wasm, which it shows by having written a
 * thread count into `env.wasm.numThreads` (a failed attempt that never reached wasm, e.g. WebGPU
 * asked for where there is none, leaves the settings open).
 */
export function freezeWasmSettings(ort: Ort): void {
  if (frozen || threadsFailure !== undefined || typeof ort.env.wasm.numThreads !== 'number') return;
  const paths = ort.env.wasm.wasmPaths;
  frozen = { numThreads: ort.env.wasm.numThreads, requested, threadsSupported: wasmThreadsSupported(), wasmPaths: paths === undefined ? undefined : JSON.stringify(paths) };
}

/** Whether onnxruntime-web's wasm has initialised in this process (a session was created). */
export function wasmInitialised(): boolean {
  return frozen !== undefined;
}

/** Records that onnxruntime-web's wasm threads could not start (see {@link throwIfThreadsFailed}). */
export function recordThreadsFailure(error: Error): void {
  threadsFailure ??= error.message;
}

/**
 * Throws a `BackendError` when onnxruntime-web's wasm threads could not start earlier in this
 * process: its initialisation never ends, so a new session would wait for ever.
 */
export function throwIfThreadsFailed(): void {
  if (threadsFailure !== undefined) throw new BackendError(threadsFailure, { backend: 'web' });
}

/**
 * The wasm thread count onnxruntime-web runs with in this process (its default, or `numThreads`
 * lowered to 1 where threads are not supported), once a web session has been created; before
 * that, undefined.
 */
export function wasmThreadsInUse(): number | undefined {
  return frozen?.numThreads;
}

/** Whether wasm threads can run here: SharedArrayBuffer exists and a page is cross-origin isolated. */
function wasmThreadsSupported(): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated !== false;
}
