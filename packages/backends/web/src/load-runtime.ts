import { BackendError, InvalidOptionsError } from '@weft/core';
import type { WasmPaths, WebRuntimeLoader } from './web-backend-options.js';

type Ort = typeof import('onnxruntime-web');

/** The process-wide wasm settings onnxruntime-web reads once, when it first initialises. */
export interface WasmSettings {
  readonly numThreads?: number | undefined;
  readonly wasmPaths?: WasmPaths | undefined;
}

/** Each loader's module (`undefined`: the default `import('onnxruntime-web')`), loaded once. */
const runtimes = new Map<WebRuntimeLoader | undefined, Promise<Ort>>();
/**
 * Settings in force once a session has been created (onnxruntime-web cannot change them after).
 * `requested` is the thread count asked for, which onnxruntime-web lowers to 1 where wasm threads
 * are not supported: asking for it again is no change. `ort` is the module (build) that runs.
 */
let frozen:
  | {
      readonly ort: Ort;
      readonly numThreads: number | undefined;
      readonly requested: number | undefined;
      readonly threadsSupported: boolean;
      readonly wasmPaths: string | undefined;
    }
  | undefined;
/** Per module, whether each provider's backend is in it (see {@link runtimeHasProvider}). */
const providersIn = new WeakMap<Ort, Map<string, Promise<boolean>>>();
/** The thread count last written into `env.wasm.numThreads`, before onnxruntime-web read it. */
let requested: number | undefined;
/**
 * Why onnxruntime-web's wasm threads could not start, once that happened: its initialisation
 * then never ends, and every later session would wait on it, so they fail with this at once.
 */
let threadsFailure: string | undefined;

/**
 * Loads onnxruntime-web once per loader, on first use. Without `loader`, `import('onnxruntime-web')`:
 * bundlers resolve it to its browser build (wasm, WebGPU, WebNN); Node.js resolves its Node build
 * (wasm only). With one (`webBackend({ runtime })`), what it resolves to, which must be
 * onnxruntime-web's module (`InvalidOptionsError` otherwise).
 */
export function loadRuntime(loader?: WebRuntimeLoader): Promise<Ort> {
  let runtime = runtimes.get(loader);
  if (runtime) return runtime;
  const loading = loader === undefined ? import('onnxruntime-web') : Promise.resolve().then(loader);
  runtime = loading.then(
    (m) => {
      const ort = (isObject(m) && isObject((m as { default?: unknown }).default) ? (m as { default: unknown }).default : m) as Ort;
      if (!isObject(ort) || typeof ort.InferenceSession?.create !== 'function' || !isObject(ort.env?.wasm)) {
        runtimes.delete(loader);
        throw new InvalidOptionsError(
          "runtime must resolve to onnxruntime-web's module (one with InferenceSession and env.wasm), as () => import('onnxruntime-web/wasm') does; it resolved to something else.",
          { option: 'runtime' },
        );
      }
      return ort;
    },
    (cause: unknown) => {
      runtimes.delete(loader);
      const message = (cause as Error)?.message ?? String(cause);
      throw new BackendError(
        loader === undefined
          ? `onnxruntime-web could not be loaded: ${message}. Install onnxruntime-web ~1.30.`
          : `onnxruntime-web could not be loaded by webBackend({ runtime }): ${message}`,
        { backend: 'web', cause },
      );
    },
  );
  runtimes.set(loader, runtime);
  return runtime;
}

/**
 * Whether `ort` has a backend for `provider`. onnxruntime-web's wasm-only build (`onnxruntime-web/wasm`)
 * registers only `wasm`/`cpu`; asked for `webgpu` it would fail ("backend not found") or, with
 * `wasm` also listed, drop it with a console warning and run on wasm. Found out by asking it to
 * open an empty graph on `provider` alone: where the backend is missing that fails before anything
 * initialises; where it is present, its backend initialises as the session on it would (wasm
 * settings must be applied first), then the empty graph is refused. Cached per module.
 */
export function runtimeHasProvider(ort: Ort, provider: string): Promise<boolean> {
  let known = providersIn.get(ort);
  if (!known) providersIn.set(ort, (known = new Map()));
  let has = known.get(provider);
  if (!has) {
    const missing = new RegExp(`\\[${provider}\\] backend not found`);
    has = ort.InferenceSession.create(new Uint8Array(0), { executionProviders: [provider] }).then(
      (session) => (session.release().catch(() => undefined), true),
      (error: unknown) => !missing.test(String((error as Error)?.message ?? error)),
    );
    known.set(provider, has);
  }
  return has;
}

/**
 * Applies wasm settings before a session is created. Until the first session exists the last
 * caller wins; afterwards a different explicit value is an `InvalidOptionsError`, because
 * onnxruntime-web would silently keep the old one.
 */
export function applyWasmSettings(ort: Ort, settings: WasmSettings): void {
  const paths = settings.wasmPaths === undefined ? undefined : JSON.stringify(settings.wasmPaths);
  const conflict = runtimeConflict(ort);
  if (conflict !== undefined) throw new InvalidOptionsError(conflict, { option: 'runtime' });
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
 * Why sessions cannot be created on `ort` here: another onnxruntime-web module (build) already
 * runs in this process. Undefined when none runs yet, or `ort` is the one.
 */
export function runtimeConflict(ort: Ort): string | undefined {
  if (frozen === undefined || frozen.ort === ort) return undefined;
  return 'onnxruntime-web already runs in this process from another build than this web backend loads (their runtime options differ), and one process runs one build; give every web backend the same runtime.';
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
  frozen = { ort, numThreads: ort.env.wasm.numThreads, requested, threadsSupported: wasmThreadsSupported(), wasmPaths: paths === undefined ? undefined : JSON.stringify(paths) };
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

function isObject(value: unknown): value is object {
  return (typeof value === 'object' || typeof value === 'function') && value !== null;
}

/** Whether wasm threads can run here: SharedArrayBuffer exists and a page is cross-origin isolated. */
function wasmThreadsSupported(): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated !== false;
}
