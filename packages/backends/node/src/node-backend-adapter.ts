import {
  BackendError,
  checkModelSource,
  checkSessionOptions,
  logSeverityLevel,
  InvalidOptionsError,
  ModelLoadError,
  onnxExternalDataFiles,
  type BackendAdapter,
  type BackendProbe,
  type InferenceSession,
  type ModelSource,
  type SessionOptions,
} from '@weft/core';
import type * as ortTypes from 'onnxruntime-node';
import { loadRuntime } from './load-runtime.js';
import { NodeSession } from './node-session.js';

/** Weft backend on onnxruntime-node. Usable directly or registered through `nodeBackend()`. */
export class NodeBackendAdapter implements BackendAdapter {
  readonly specificationVersion = 'v1' as const;
  readonly name = 'node';
  /** onnxruntime-node reads external data files only from disk, beside a graph path. */
  readonly externalDataFromBytes = false;

  private readonly defaults: SessionOptions;

  constructor(defaults: SessionOptions = {}) {
    this.defaults = checkSessionOptions(defaults, 'defaults');
  }

  async probe(): Promise<BackendProbe> {
    try {
      const ort = await loadRuntime();
      const providers = ort.listSupportedBackends();
      return {
        available: true,
        executionProviders: providers.filter((p) => p.bundled).map((p) => p.name),
        reason: describeUnbundled(providers),
      };
    } catch (error) {
      return { available: false, reason: (error as Error).message };
    }
  }

  /**
   * Throws the `InvalidOptionsError` `createSession` would for `options` (over `defaults`), e.g. a
   * provider this onnxruntime-node build does not have, without opening a session.
   */
  async validateSessionOptions(options: SessionOptions): Promise<void> {
    const ort = await loadRuntime();
    toOrtOptions({ ...this.defaults, ...checkSessionOptions(options) }, ort.listSupportedBackends().map((p) => p.name));
  }

  async createSession(source: ModelSource, options: SessionOptions = {}): Promise<InferenceSession> {
    checkModelSource(source);
    const ort = await loadRuntime();
    // `options` is checked here (a null would spread as nothing), the merge again in toOrtOptions.
    const merged = { ...this.defaults, ...checkSessionOptions(options) };
    const sessionOptions = toOrtOptions(merged, ort.listSupportedBackends().map((p) => p.name));
    const bytes = source.kind === 'bytes' ? modelBytes(source.bytes) : undefined;
    if (source.kind === 'bytes') refuseExternalData(source);
    try {
      const session =
        source.kind === 'path'
          ? await ort.InferenceSession.create(source.path, sessionOptions)
          : await ort.InferenceSession.create(bytes!, sessionOptions);
      return new NodeSession(ort, session);
    } catch (cause) {
      const where = source.kind === 'path' ? source.path : `${source.bytes.byteLength} bytes`;
      throw new BackendError(`onnxruntime-node could not create a session from ${where}: ${(cause as Error).message}`, {
        backend: 'node',
        cause,
      });
    }
  }
}

/**
 * onnxruntime-node reads a graph's external data files (`model.onnx_data`) only from disk, beside
 * a graph opened by path: given bytes, it would fail to find them. A `BackendError`, so that
 * `backend: 'auto'` goes on to a backend that takes them (the web backend).
 */
function refuseExternalData(source: Extract<ModelSource, { kind: 'bytes' }>): void {
  const files = source.externalData?.length ? source.externalData.map((f) => f.path) : onnxExternalDataFiles(source.bytes);
  if (files.length === 0) return;
  throw new BackendError(
    `onnxruntime-node cannot open a graph whose tensors are in external data files (${files.join(', ')}) from bytes: it reads them only from disk, beside a graph file. Load the model from a folder on disk, or use the web backend (@weft/backend-web), which takes them as bytes.`,
    { backend: 'node' },
  );
}

/**
 * Bytes onnxruntime-node accepts: it takes only views of a plain ArrayBuffer, so a view of a
 * SharedArrayBuffer (e.g. bytes shared with a worker) is copied; empty bytes are a load error.
 */
function modelBytes(bytes: Uint8Array): Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength === 0) throw new ModelLoadError('The model bytes are empty or not a Uint8Array.');
  return bytes.buffer instanceof ArrayBuffer ? bytes : new Uint8Array(bytes);
}

/**
 * Maps Weft's session options to onnxruntime's. Their shape (keys, thread counts, level) is core's
 * rule (`checkSessionOptions`); the provider names must be in this onnxruntime-node build.
 */
export function toOrtOptions(options: SessionOptions, knownProviders: readonly string[]): ortTypes.InferenceSession.SessionOptions {
  const { intraOpNumThreads, interOpNumThreads, graphOptimizationLevel, executionProviders, logLevel } = checkSessionOptions(options);
  const out: ortTypes.InferenceSession.SessionOptions = { logSeverityLevel: logSeverityLevel(logLevel) };
  if (intraOpNumThreads !== undefined) out.intraOpNumThreads = intraOpNumThreads;
  if (interOpNumThreads !== undefined) out.interOpNumThreads = interOpNumThreads;
  if (graphOptimizationLevel !== undefined) out.graphOptimizationLevel = graphOptimizationLevel;
  if (executionProviders !== undefined) {
    const unknown = executionProviders.filter((p) => !knownProviders.includes(p));
    if (unknown.length > 0) {
      throw new InvalidOptionsError(
        `Execution provider(s) ${unknown.join(', ')} are not in this onnxruntime-node build (it has: ${knownProviders.join(', ')}).`,
        { option: 'executionProviders' },
      );
    }
    out.executionProviders = [...executionProviders];
  }
  return out;
}

function describeUnbundled(providers: readonly { name: string; bundled: boolean }[]): string | undefined {
  const extra = providers.filter((p) => !p.bundled).map((p) => p.name);
  return extra.length > 0 ? `${extra.join(', ')} need their runtime libraries installed separately` : undefined;
}
