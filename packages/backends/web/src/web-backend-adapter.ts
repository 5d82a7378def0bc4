import {
  BackendError,
  logSeverityLevel,
  WeftError,
  type BackendAdapter,
  type BackendProbe,
  type InferenceSession,
  type ModelSource,
  type SessionOptions,
} from '@weft/core';
import type * as ortTypes from 'onnxruntime-web';
import { detectEnvironment, type WebEnvironment } from './environment.js';
import { applyWasmSettings, freezeWasmSettings, loadRuntime } from './load-runtime.js';
import { availableProviders, describeProbe, probeWebProviders, type WebProviderProbe } from './probe.js';
import { readModel } from './read-model.js';
import {
  normaliseProviders,
  validateSessionOptions,
  validateWebOptions,
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

  /** `environment` replaces the facts read from `globalThis` (tests, workers with odd globals). */
  constructor(
    private readonly options: WebAdapterOptions = {},
    environment?: WebEnvironment,
  ) {
    validateWebOptions(options);
    const configured = options.executionProviders ?? options.defaults?.executionProviders;
    this.providers = configured ? normaliseProviders(configured, 'executionProviders') : [{ name: 'wasm' }];
    this.env = environment ?? detectEnvironment();
  }

  /** Per-provider availability here (see `probeWebProviders`). */
  probeProviders(): Promise<WebProviderProbe> {
    const webnn = this.providers.find((p) => p.name === 'webnn');
    return probeWebProviders(this.env, webnn?.name === 'webnn' ? webnn.deviceType : undefined);
  }

  async probe(): Promise<BackendProbe> {
    try {
      await loadRuntime();
    } catch (error) {
      return { available: false, reason: (error as Error).message };
    }
    const probe = await this.probeProviders();
    const usable = this.providers.filter((p) => probe[p.name].available).map((p) => p.name);
    const reason = describeProbe(probe);
    if (usable.length === 0) {
      return {
        available: false,
        reason: `none of the configured providers (${this.providers.map((p) => p.name).join(', ')}) is available here${reason ? `: ${reason}` : ''}`,
      };
    }
    return { available: true, executionProviders: availableProviders(probe), reason };
  }

  async createSession(source: ModelSource, options: SessionOptions = {}): Promise<InferenceSession> {
    validateSessionOptions(options);
    const merged = { ...this.options.defaults, ...options };
    // The configured list (which already took `defaults.executionProviders` into account) unless
    // this load names its own; a name configured with options keeps them.
    const providers = options.executionProviders
      ? normaliseProviders(options.executionProviders, 'executionProviders').map((p) => this.providers.find((c) => c.name === p.name) ?? p)
      : this.providers;
    const ort = await loadRuntime();
    applyWasmSettings(ort, { numThreads: this.options.numThreads, wasmPaths: this.options.wasmPaths });
    const model = await readModel(source, this.env);
    const where = source.kind === 'path' ? source.path : `${source.bytes.byteLength} bytes`;
    let session: ortTypes.InferenceSession;
    try {
      const sessionOptions = toOrtWebOptions(merged, providers);
      // Tensors the graph keeps in files beside it (`model.onnx_data`), under the names it gives them.
      if (model.externalData.length > 0) sessionOptions.externalData = model.externalData.map((f) => ({ path: f.path, data: f.data }));
      session = await ort.InferenceSession.create(model.bytes, sessionOptions);
    } catch (cause) {
      if (WeftError.isInstance(cause)) throw cause;
      const unavailable = await this.explainUnavailable(providers);
      throw new BackendError(
        `onnxruntime-web could not create a session from ${where} on ${providers.map((p) => p.name).join(', ')}: ${(cause as Error).message}${unavailable}`,
        { backend: 'web', cause },
      );
    } finally {
      freezeWasmSettings(ort);
    }
    return new WebSession(ort, session, providers.map((p) => p.name));
  }

  private async explainUnavailable(providers: readonly WebProviderConfig[]): Promise<string> {
    const probe = await this.probeProviders();
    const notes = providers.filter((p) => !probe[p.name].available).map((p) => `${p.name}: ${probe[p.name].reason ?? 'unavailable'}`);
    return notes.length > 0 ? ` (${notes.join('; ')})` : '';
  }
}

/** Maps Weft's session options and the provider list to onnxruntime-web's session options. */
export function toOrtWebOptions(options: SessionOptions, providers: readonly WebProviderConfig[]): ortTypes.InferenceSession.SessionOptions {
  const out: ortTypes.InferenceSession.SessionOptions = {
    executionProviders: providers.map((p) => (Object.keys(p).length === 1 ? p.name : { ...p })) as ortTypes.InferenceSession.ExecutionProviderConfig[],
    logSeverityLevel: logSeverityLevel(options.logLevel),
  };
  if (options.graphOptimizationLevel !== undefined) out.graphOptimizationLevel = options.graphOptimizationLevel;
  if (options.intraOpNumThreads !== undefined) out.intraOpNumThreads = options.intraOpNumThreads;
  if (options.interOpNumThreads !== undefined) out.interOpNumThreads = options.interOpNumThreads;
  return out;
}
