import {
  BackendError,
  checkModelSource,
  InvalidOptionsError,
  logSeverityLevel,
  WeftError,
  type BackendAdapter,
  type BackendProbe,
  type InferenceSession,
  type ModelSource,
  type SessionOptions,
} from '@weft/core';
import type * as ortTypes from 'onnxruntime-web';
import { detectEnvironment, wasmThreadsAllowed, type WebEnvironment } from './environment.js';
import {
  applyWasmSettings,
  claimRuntime,
  freezeWasmSettings,
  knownRuntimeProvider,
  loadRuntime,
  noteSessionAttempt,
  recordThreadsFailure,
  RUNTIME_FILE_FAILED,
  runtimeHasProvider,
  throwIfInitFailed,
  throwIfThreadsFailed,
  wasmInitialised,
  wasmSettingsConflict,
  type WasmSettings,
} from './load-runtime.js';
import { probeWebProvider, probeWebProviders, type ProviderStatus, type WebProviderProbe } from './probe.js';
import { readModel } from './read-model.js';
import { watchThreadWorkers } from './thread-workers.js';
import {
  checkFullOffload,
  normaliseProviders,
  normaliseWebOptions,
  validateSessionOptions,
  type WebAdapterOptions,
  type WebProviderConfig,
} from './web-backend-options.js';
import { WebSession } from './web-session.js';

/**
 * Weft backend on onnxruntime-web: wasm everywhere (Node.js included), WebGPU and WebNN in
 * browsers that have them. Usable directly or registered through `webBackend()`.
 */
export class WebBackendAdapter implements BackendAdapter {
  readonly specificationVersion = 'v1' as const;
  readonly name = 'web';
  private readonly providers: readonly WebProviderConfig[];
  private readonly env: WebEnvironment;
  /** The checked copy of the options given (each read once). */
  private readonly options: WebAdapterOptions;

  /** `environment` replaces the facts read from `globalThis` (tests, workers with odd globals). */
  constructor(options: WebAdapterOptions = {}, environment?: WebEnvironment) {
    this.options = normaliseWebOptions(options);
    const configured = this.options.executionProviders ?? this.options.defaults?.executionProviders;
    this.providers = configured ? normaliseProviders(configured, 'executionProviders') : [{ name: 'wasm' }];
    this.env = environment ?? detectEnvironment();
  }

  /**
   * Per-provider availability here (see `probeWebProviders`); with a `runtime`, WebGPU and WebNN
   * also as {@link probe} reports them against that build.
   */
  async probeProviders(): Promise<WebProviderProbe> {
    const webnn = this.providers.find((p) => p.name === 'webnn');
    const probe = await probeWebProviders(this.env, webnn?.name === 'webnn' ? webnn.deviceType : undefined);
    if (this.options.runtime === undefined) return probe;
    const ort = await loadRuntime(this.options.runtime).catch(() => undefined);
    if (ort === undefined) return probe;
    return { ...probe, webgpu: inBuild(ort, 'webgpu', probe.webgpu), webnn: inBuild(ort, 'webnn', probe.webnn) };
  }

  /**
   * Available when at least one configured provider is available here; `executionProviders` are
   * those, in the configured order. Only the configured providers are checked: a wasm-only
   * backend never asks `navigator.gpu` for an adapter. Starts nothing: with a `runtime`, whether
   * its build has WebGPU or WebNN is found out when a session is created (a note says so until then).
   */
  async probe(): Promise<BackendProbe> {
    let statuses: ProviderStatus[];
    try {
      const ort = await loadRuntime(this.options.runtime);
      // What createSession would refuse, so that `auto` moves on to another backend: another build
      // running, an initialisation that failed earlier, settings that conflict with those in force,
      // more than one thread for a `runtime`'s build under Node.js.
      const conflict = wasmSettingsConflict(ort, await this.wasmSettings(ort));
      if (conflict !== undefined) return { available: false, reason: conflict.message };
      throwIfInitFailed(ort, this.env.node);
      statuses = await Promise.all(this.providers.map((p) => probeWebProvider(this.env, p)));
      if (this.options.runtime !== undefined) statuses = statuses.map((status, i) => (this.providers[i]!.name === 'wasm' ? status : inBuild(ort, this.providers[i]!.name, status)));
    } catch (error) {
      return { available: false, reason: (error as Error).message };
    }
    const usable = [...new Set(this.providers.filter((_, i) => statuses[i]!.available).map((p) => p.name))];
    const notes = this.providers.flatMap((p, i) => {
      const { available, reason } = statuses[i]!;
      return reason === undefined ? [] : [`${p.name}: ${available ? '' : 'unavailable, '}${reason}`];
    });
    const reason = notes.length > 0 ? notes.join('; ') : undefined;
    if (usable.length === 0) {
      return {
        available: false,
        reason: `none of the configured providers (${this.providers.map((p) => p.name).join(', ')}) is available here${reason ? `: ${reason}` : ''}`,
      };
    }
    return { available: true, executionProviders: usable, reason };
  }

  /**
   * Throws what `createSession` would for `options` before it loads onnxruntime-web or reads the
   * graph: the `InvalidOptionsError` for a provider name that is not one of this backend's
   * (`cpu`), and the `BackendError` when none of the providers `options` names is available here
   * (WebGPU or WebNN under Node.js). Core asks it of failover fallbacks at load.
   */
  async validateSessionOptions(options: SessionOptions): Promise<void> {
    const checked = validateSessionOptions(options);
    if (!checked.executionProviders) return;
    const providers = normaliseProviders(checked.executionProviders, 'executionProviders').map((p) => this.providers.find((c) => c.name === p.name) ?? p);
    if (this.options.requireFullOffload === true) checkFullOffload(providers, 'session.executionProviders');
    const statuses = await Promise.all(providers.map((p) => probeWebProvider(this.env, p)));
    if (statuses.some((s) => s.available)) return;
    const missing = providers.map((p, i) => `${p.name}: ${statuses[i]!.reason ?? 'unavailable'}`);
    throw new BackendError(`onnxruntime-web cannot run on ${providers.map((p) => p.name).join(', ')}: ${providers.length === 1 ? 'it is not' : 'none of them is'} available here (${missing.join('; ')})`, {
      backend: 'web',
    });
  }

  /**
   * Opens the graph on the providers that are available here (see `probe`), in order; the
   * session's `executionProviders` lists them. onnxruntime-web would otherwise drop an unavailable
   * one itself, with a console warning, and run on the rest while the session named it.
   */
  async createSession(source: ModelSource, given: SessionOptions = {}): Promise<InferenceSession> {
    checkModelSource(source);
    const options = validateSessionOptions(given);
    const merged = { ...this.options.defaults, ...options };
    // The configured list (which already took `defaults.executionProviders` into account) unless
    // this load names its own; a name configured with options keeps them.
    const providers = options.executionProviders
      ? normaliseProviders(options.executionProviders, 'executionProviders').map((p) => this.providers.find((c) => c.name === p.name) ?? p)
      : this.providers;
    const requireFullOffload = this.options.requireFullOffload === true;
    if (requireFullOffload && options.executionProviders) checkFullOffload(providers, 'session.executionProviders');
    const where = source.kind === 'path' ? source.path : `${source.bytes.byteLength} bytes`;
    const names = providers.map((p) => p.name).join(', ');
    const ort = await loadRuntime(this.options.runtime);
    throwIfThreadsFailed();
    const settings = await this.wasmSettings(ort);
    // Claimed before this attempt's next await: another build's first session, started meanwhile,
    // is refused instead of starting a second build in this process.
    const release = claimRuntime(ort);
    try {
      // After claimRuntime's build check: another build running is the first thing to fix.
      throwIfInitFailed(ort, this.env.node);
      applyWasmSettings(ort, settings);
      const statuses = await this.check(ort, providers);
      const usable = providers.filter((_, i) => statuses[i]!.available);
      const missing = providers.flatMap((p, i) => (statuses[i]!.available ? [] : [`${p.name}: ${statuses[i]!.reason ?? 'unavailable'}`]));
      if (usable.length === 0) {
        throw new BackendError(`onnxruntime-web could not create a session from ${where} on ${names}: ${providers.length === 1 ? 'it is not' : 'none of them is'} available here (${missing.join('; ')})`, {
          backend: 'web',
        });
      }
      const model = await readModel(source, this.env);
      // In a browser, until onnxruntime-web's wasm is up: a thread worker the browser refuses
      // would leave its initialisation, hence this session, pending for ever.
      const threadWatch = !wasmInitialised() && !this.env.node && wasmThreadsAllowed(this.env) ? watchThreadWorkers() : undefined;
      let session: ortTypes.InferenceSession;
      try {
        const sessionOptions = toOrtWebOptions(merged, usable, { requireFullOffload });
        // Tensors the graph keeps in files beside it (`model.onnx_data`), under the names it gives them.
        if (model.externalData.length > 0) sessionOptions.externalData = model.externalData.map((f) => ({ path: f.path, data: f.data }));
        const created = ort.InferenceSession.create(model.bytes, sessionOptions).then(
          (value) => (noteSessionAttempt(ort), value),
          (error: unknown) => {
            noteSessionAttempt(ort, error);
            throw error;
          },
        );
        session = threadWatch
          ? await Promise.race([
              created,
              threadWatch.failed.catch((error: Error) => {
                recordThreadsFailure(error);
                // Should onnxruntime-web finish after all, nobody would release its session.
                created.then((late) => late.release()).catch(() => undefined);
                throw error;
              }),
            ])
          : await created;
      } catch (cause) {
        if (WeftError.isInstance(cause)) throw cause;
        const message = sessionFailureMessage((cause as Error).message, { requireFullOffload, missing });
        throw new BackendError(`onnxruntime-web could not create a session from ${where} on ${usable.map((p) => p.name).join(', ')}: ${message}`, {
          backend: 'web',
          cause,
        });
      } finally {
        threadWatch?.stop();
      }
      return new WebSession(ort, session, usable.map((p) => p.name));
    } finally {
      // The build and settings become the process's only once its wasm started (a failed start
      // leaves them open); the claim ends with the attempt.
      freezeWasmSettings(ort);
      release();
    }
  }

  /**
   * The wasm settings for `ort`. Under Node.js a `runtime`'s build other than onnxruntime-web's
   * Node.js one (`onnxruntime-web/wasm` resolves to its browser bundle there) starts only on one
   * thread: its thread workers need a browser, so numThreads defaults to 1 there, and more is an
   * `InvalidOptionsError`.
   */
  private async wasmSettings(ort: Ort): Promise<WasmSettings> {
    let numThreads = this.options.numThreads;
    if (this.env.node && this.options.runtime !== undefined && numThreads !== 1 && ort !== (await loadRuntime().catch(() => undefined))) {
      if (numThreads !== undefined && numThreads !== 0) {
        throw new InvalidOptionsError(
          `numThreads ${numThreads}: under Node.js the onnxruntime-web build that webBackend({ runtime }) loads runs on one thread only (its thread workers need a browser); set numThreads: 1, or leave runtime unset to run onnxruntime-web's Node.js build.`,
          { option: 'numThreads' },
        );
      }
      numThreads = 1;
    }
    return { numThreads, wasmPaths: this.options.wasmPaths };
  }

  /**
   * The availability of each of `providers` here, in order. With a `runtime` of the application's,
   * a WebGPU or WebNN provider the environment has is also checked against that build (the
   * wasm-only one has neither); the caller holds the claim and applied the wasm settings: in a
   * build that has the provider, the check initialises it as its session would.
   */
  private async check(ort: Ort, providers: readonly WebProviderConfig[]): Promise<ProviderStatus[]> {
    const statuses = await Promise.all(providers.map((p) => probeWebProvider(this.env, p)));
    if (this.options.runtime === undefined) return statuses;
    for (const [i, p] of providers.entries()) {
      if (p.name === 'wasm' || !statuses[i]!.available || (await runtimeHasProvider(ort, p.name))) continue;
      statuses[i] = { available: false, reason: noBackendIn(p.name) };
    }
    return statuses;
  }
}

type Ort = typeof ortTypes;

function noBackendIn(provider: string): string {
  return `the onnxruntime-web build that webBackend({ runtime }) loads has no ${provider} backend (onnxruntime-web/wasm runs wasm only; import('onnxruntime-web') has WebGPU and WebNN)`;
}

/**
 * `status` (from the environment) of WebGPU or WebNN against the build a `runtime` loads, as far
 * as it is known without starting it: unavailable once a session attempt found the build lacks
 * it, else as the environment says, with a note until it is checked.
 */
function inBuild(ort: Ort, provider: string, status: ProviderStatus): ProviderStatus {
  if (!status.available) return status;
  const known = knownRuntimeProvider(ort, provider);
  if (known === true) return status;
  if (known === false) return { available: false, reason: noBackendIn(provider) };
  const note = `whether the onnxruntime-web build that webBackend({ runtime }) loads has ${provider} is checked when a session is created`;
  return { available: true, reason: status.reason === undefined ? note : `${status.reason}; ${note}` };
}

/** How onnxruntime reports a node left to its CPU provider under `session.disable_cpu_ep_fallback`. */
const FALLBACK_REFUSED = /fallback to CPU EP has been explicitly disabled/i;

/**
 * How onnxruntime-web reports runtime files it could not fetch: its `.mjs` loader's dynamic import
 * failed (Chromium: "Failed to fetch dynamically imported module: URL"; Firefox: "error loading
 * dynamically imported module: URL"; Node.js: "Cannot find module 'PATH'"). Group 1 or 2 is the URL.
 */
const RUNTIME_FETCH_FAILED = new RegExp(`no available backend found[\\s\\S]*?(?:${RUNTIME_FILE_FAILED.source})`, 'i');

/**
 * What follows "could not create a session …: " when onnxruntime-web fails with `message`: the
 * message, with what to do first where it is recognised (Weft cuts a failed load's message to
 * 300 characters), and the providers not tried.
 */
export function sessionFailureMessage(
  message: string,
  { requireFullOffload = false, missing = [] }: { readonly requireFullOffload?: boolean; readonly missing?: readonly string[] } = {},
): string {
  const fetchFailed = RUNTIME_FETCH_FAILED.exec(message);
  const hint = fetchFailed
    ? `it could not fetch its runtime files from ${fetchFailed[1] ?? fetchFailed[2]}; set webBackend({ wasmPaths }) to where they are served. `
    : '';
  const offload =
    requireFullOffload && FALLBACK_REFUSED.test(message)
      ? ' (requireFullOffload: WebNN cannot run every node of this graph, and onnxruntime-web would have run the rest on wasm; turn requireFullOffload off to allow that)'
      : '';
  const skipped = missing.length > 0 ? ` (not tried, unavailable here: ${missing.join('; ')})` : '';
  return `${hint}${message}${offload}${skipped}`;
}

/**
 * Maps Weft's session options and the provider list to onnxruntime-web's session options;
 * `requireFullOffload` sets onnxruntime's `session.disable_cpu_ep_fallback`, under which a graph
 * with any node left to the CPU (wasm) fails to load.
 */
export function toOrtWebOptions(
  options: SessionOptions,
  providers: readonly WebProviderConfig[],
  { requireFullOffload = false }: { readonly requireFullOffload?: boolean } = {},
): ortTypes.InferenceSession.SessionOptions {
  const out: ortTypes.InferenceSession.SessionOptions = {
    executionProviders: providers.map((p) => (Object.keys(p).length === 1 ? p.name : { ...p })) as ortTypes.InferenceSession.ExecutionProviderConfig[],
    logSeverityLevel: logSeverityLevel(options.logLevel),
  };
  if (requireFullOffload) out.extra = { session: { disable_cpu_ep_fallback: '1' } };
  if (options.graphOptimizationLevel !== undefined) out.graphOptimizationLevel = options.graphOptimizationLevel;
  if (options.intraOpNumThreads !== undefined) out.intraOpNumThreads = options.intraOpNumThreads;
  if (options.interOpNumThreads !== undefined) out.interOpNumThreads = options.interOpNumThreads;
  return out;
}
