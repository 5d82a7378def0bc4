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
/**
 * The module (build) whose first session is being created, taken synchronously before the first
 * `await` of the attempt, and how many attempts hold it: until a session exists another build is
 * refused (see {@link claimRuntime}), so two builds never start side by side.
 */
let claim: { readonly ort: Ort; holders: number } | undefined;
/** Modules whose wasm has started: a session was created, or ort failed after its init. */
const started = new WeakSet<Ort>();
/** How onnxruntime-web reports that no backend could be initialised (nothing started). */
const NOTHING_STARTED = /no available backend found/i;
/** Per module, whether each provider's backend is in it (see {@link runtimeHasProvider}). */
const providersIn = new WeakMap<Ort, Map<string, Promise<boolean>>>();
/** The settled answers of {@link runtimeHasProvider}, which `probe()` reads without starting anything. */
const providersKnown = new WeakMap<Ort, Map<string, boolean>>();
/**
 * Per module, the first failure of its initialisation before its wasm started (its runtime files
 * could not be loaded): onnxruntime-web keeps that failed initialisation and answers every later
 * session with it, whatever wasmPaths say then (see {@link throwIfInitFailed}).
 */
const initFailures = new WeakMap<Ort, string>();
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
      // env.versions.web tells onnxruntime-web from onnxruntime-node and onnxruntime-common, which share its shape.
      if (
        !isObject(ort) ||
        typeof ort.InferenceSession?.create !== 'function' ||
        typeof ort.Tensor !== 'function' ||
        !isObject(ort.env?.wasm) ||
        typeof ort.env.versions?.web !== 'string'
      ) {
        runtimes.delete(loader);
        throw new InvalidOptionsError(
          "runtime must resolve to onnxruntime-web's module (one with InferenceSession, Tensor, env.wasm and env.versions.web), as () => import('onnxruntime-web/wasm') does; it resolved to something else (onnxruntime-node and onnxruntime-common are not it).",
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
      (session) => (noteSessionAttempt(ort), session.release().catch(() => undefined), true),
      (error: unknown) => (noteSessionAttempt(ort, error), !missing.test(String((error as Error)?.message ?? error))),
    );
    has.then((value) => {
      let settled = providersKnown.get(ort);
      if (!settled) providersKnown.set(ort, (settled = new Map()));
      settled.set(provider, value);
    });
    known.set(provider, has);
  }
  return has;
}

/**
 * What {@link runtimeHasProvider} found out for `ort` and `provider`, without asking: undefined
 * until it has (`probe()` starts nothing, so it reads this).
 */
export function knownRuntimeProvider(ort: Ort, provider: string): boolean | undefined {
  return providersKnown.get(ort)?.get(provider);
}

/**
 * Claims the process for `ort`'s build for one session attempt: call it synchronously before the
 * attempt's first `await` that could start onnxruntime-web, and the returned function once the
 * attempt is over. Throws `InvalidOptionsError` (option `runtime`) when another build runs, or
 * another attempt is starting one.
 */
export function claimRuntime(ort: Ort): () => void {
  const conflict = runtimeConflict(ort);
  if (conflict !== undefined) throw new InvalidOptionsError(conflict, { option: 'runtime' });
  if (frozen) return () => undefined;
  if (claim) claim.holders++;
  else claim = { ort, holders: 1 };
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (claim && --claim.holders === 0) claim = undefined;
  };
}

/**
 * Records what an `InferenceSession.create` on `ort` showed: without `error` (a session was
 * created), with one other than "no available backend found", or with a WebGPU/WebNN backend that
 * failed to start (after the wasm did), its wasm started.
 */
export function noteSessionAttempt(ort: Ort, error?: unknown): void {
  const message = error === undefined ? '' : String((error as Error)?.message ?? error);
  if (error === undefined || !NOTHING_STARTED.test(message) || GPU_START_FAILED.test(message)) started.add(ort);
  // Nothing started, and not only because a provider is missing from the build: its initialisation failed.
  else if (!started.has(ort) && !initFailures.has(ort) && INIT_FAILED.test(message)) initFailures.set(ort, message);
}

/** A provider's error in "no available backend found. ERR: [wasm] …" other than "backend not found". */
const INIT_FAILED = /\[[\w-]+\] (?!backend not found)/;

/**
 * The runtime file a failed initialisation could not load, from onnxruntime-web's message:
 * browsers ("Failed to fetch dynamically imported module: URL", Firefox "error loading dynamically
 * imported module: URL") and Node.js ("Cannot find module 'PATH'"). Group 1 or 2 is the URL.
 */
export const RUNTIME_FILE_FAILED = /(?:failed to fetch|error loading) dynamically imported module:?\s*(\S*ort-wasm\S*?\.mjs)|Cannot find module '([^']*ort-wasm[^']*?\.mjs)'/i;

/**
 * Throws a `BackendError` when `ort`'s initialisation failed earlier in this process (page):
 * onnxruntime-web does not retry it, so a new session would fail with the old error (and the old
 * URL) even with wasmPaths fixed. `node`: the message says process rather than page.
 */
export function throwIfInitFailed(ort: Ort, node: boolean): void {
  const first = initFailures.get(ort);
  if (first === undefined) return;
  const where = node ? 'process' : 'page';
  const file = RUNTIME_FILE_FAILED.exec(first);
  const what = file ? `could not load its runtime files from ${file[1] ?? file[2]}` : `failed to initialise (${first.length > 200 ? `${first.slice(0, 200)}…` : first})`;
  throw new BackendError(
    `onnxruntime-web ${what} earlier in this ${where}, and it cannot retry its initialisation in this ${where}: set webBackend({ wasmPaths }) to where its files are served, then ${node ? 'restart the process' : 'reload the page'}.`,
    { backend: 'web' },
  );
}

/**
 * A WebGPU or WebNN backend that failed past being found: onnxruntime-web starts its wasm first,
 * so that build is running even though it reports "no available backend found" (review 30).
 * Counted as started, which keeps another build out, as a running one must.
 */
const GPU_START_FAILED = /\[(webgpu|webnn)\](?! backend not found)/i;

/**
 * Applies wasm settings before a session is created. Until the first session exists the last
 * caller wins; afterwards a different explicit value is an `InvalidOptionsError`, because
 * onnxruntime-web would silently keep the old one.
 */
export function applyWasmSettings(ort: Ort, settings: WasmSettings): void {
  const conflict = wasmSettingsConflict(ort, settings);
  if (conflict !== undefined) throw conflict;
  if (frozen) return;
  if (settings.numThreads !== undefined && settings.numThreads !== 0) {
    ort.env.wasm.numThreads = settings.numThreads;
    requested = settings.numThreads;
  }
  if (settings.wasmPaths !== undefined) ort.env.wasm.wasmPaths = settings.wasmPaths as NonNullable<Ort['env']['wasm']['wasmPaths']>;
}

/**
 * Why `settings` cannot be applied for `ort`, as the `InvalidOptionsError` {@link applyWasmSettings}
 * would throw (undefined when they can): another build runs, or onnxruntime-web already runs with
 * another thread count or other wasmPaths. Changes nothing, so `probe()` asks it too.
 */
export function wasmSettingsConflict(ort: Ort, settings: WasmSettings): InvalidOptionsError | undefined {
  const conflict = runtimeConflict(ort);
  if (conflict !== undefined) return new InvalidOptionsError(conflict, { option: 'runtime' });
  if (!frozen) return undefined;
  const threads = settings.numThreads;
  // Without wasm threads onnxruntime-web runs one thread whatever is asked: no value changes anything.
  if (threads !== undefined && threads !== 0 && threads !== frozen.numThreads && threads !== frozen.requested && frozen.threadsSupported) {
    return new InvalidOptionsError(
      `onnxruntime-web is already running with numThreads = ${frozen.numThreads ?? 'its default'} in this process; it cannot switch to ${threads}. Give every web backend the same numThreads.`,
      { option: 'numThreads' },
    );
  }
  const paths = settings.wasmPaths === undefined ? undefined : JSON.stringify(settings.wasmPaths);
  if (paths !== undefined && paths !== frozen.wasmPaths) {
    return new InvalidOptionsError('onnxruntime-web already loaded its wasm files from other wasmPaths in this process; give every web backend the same wasmPaths.', {
      option: 'wasmPaths',
    });
  }
  return undefined;
}

/**
 * Why sessions cannot be created on `ort` here: another onnxruntime-web module (build) already
 * runs in this process. Undefined when none runs yet, or `ort` is the one.
 */
export function runtimeConflict(ort: Ort): string | undefined {
  const running = frozen?.ort ?? claim?.ort;
  if (running === undefined || running === ort) return undefined;
  return 'onnxruntime-web already runs in this process from another build than this web backend loads (their runtime options differ), and one process runs one build; give every web backend the same runtime.';
}

/**
 * Records the build and the settings onnxruntime-web initialised with. Called after every session
 * attempt; it only takes effect once `ort`'s wasm has started (see {@link noteSessionAttempt}): an
 * attempt that never got there (WebGPU asked for where there is none, or the runtime files could
 * not be fetched) leaves the build and the settings open, so another build can still run.
 */
export function freezeWasmSettings(ort: Ort): void {
  if (frozen || threadsFailure !== undefined || !started.has(ort) || typeof ort.env.wasm.numThreads !== 'number') return;
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
