import { BackendError, describeCause, logSeverityLevel, ModelLoadError, onnxExternalDataFiles, WeftError, type InferenceSession, type ModelSource, type SessionOptions } from '@weft/core';
import type * as ortTypes from 'onnxruntime-node';
import { loadRuntime } from './load-runtime.js';
import { OrtNodeSession } from './ort-node-session.js';
import type { PlannedProvider } from './plan.js';
import type { OrtProviderConfigMap } from './providers.js';
// Used inside function bodies only: @weft/backend-web is an optional peer, so npu's published
// declarations must not name its types (a consumer without it could not type-check them).
import type { WebAdapterOptions } from '@weft/backend-web';

/** What a session factory is asked for: one provider of the chain. */
export interface SessionRequest {
  readonly provider: PlannedProvider;
  readonly source: ModelSource;
  /** Thread counts and graph optimisation level (providers come from `provider`). */
  readonly options: Omit<SessionOptions, 'executionProviders'>;
  /** Fail instead of running unsupported nodes on the CPU (`session.disable_cpu_ep_fallback`). */
  readonly requireFullOffload: boolean;
}

/**
 * Creates a session on one provider or throws. The adapter calls it once per provider of the
 * chain until one succeeds. Inject one to use another runtime (onnxruntime-react-native for
 * NNAPI, a QNN build of onnxruntime-node…) or, in tests, to make chosen providers fail.
 */
export type NpuSessionFactory = (request: SessionRequest) => Promise<InferenceSession>;

/**
 * The factory the adapter uses by default: onnxruntime-node for native providers (cpu, qnn,
 * coreml, dml), @weft/backend-web (onnxruntime-web) for webnn and wasm. Providers whose runtime is
 * neither (nnapi, openvino) fail with a `BackendError` saying what to inject.
 */
export const defaultSessionFactory: NpuSessionFactory = async (request) => {
  switch (request.provider.runtime) {
    case 'onnxruntime-node':
      return createNodeSession(request);
    case 'onnxruntime-web':
      return createWebSession(request);
    case 'onnxruntime-react-native':
    case 'none':
      throw new BackendError(
        `${request.provider.name} cannot be appended by onnxruntime-node or onnxruntime-web; pass a sessionFactory that creates the session with a runtime that has it.`,
        { backend: 'npu' },
      );
  }
};

/** onnxruntime-node session options for one provider. */
export function toOrtNodeSessionOptions(request: Omit<SessionRequest, 'source'>): ortTypes.InferenceSession.SessionOptions {
  const out: ortTypes.InferenceSession.SessionOptions = {
    executionProviders: [request.provider.ort as ortTypes.InferenceSession.ExecutionProviderConfig],
    logSeverityLevel: logSeverityLevel(request.options.logLevel),
  };
  const { intraOpNumThreads, interOpNumThreads, graphOptimizationLevel } = request.options;
  if (intraOpNumThreads !== undefined) out.intraOpNumThreads = intraOpNumThreads;
  if (interOpNumThreads !== undefined) out.interOpNumThreads = interOpNumThreads;
  if (graphOptimizationLevel !== undefined) out.graphOptimizationLevel = graphOptimizationLevel;
  if (request.requireFullOffload && request.provider.device !== 'cpu') out.extra = { session: { disable_cpu_ep_fallback: '1' } };
  return out;
}

async function createNodeSession(request: SessionRequest): Promise<InferenceSession> {
  const ort = await loadRuntime();
  const options = toOrtNodeSessionOptions(request);
  const { source } = request;
  if (source.kind === 'path') await checkReadable(source.path);
  else {
    // onnxruntime-node reads external data files only from disk beside a graph file: this
    // provider fails (a BackendError), and the chain goes on to wasm/webnn, which take them.
    const files = source.externalData?.length ? source.externalData.map((f) => f.path) : onnxExternalDataFiles(source.bytes);
    if (files.length > 0) {
      throw new BackendError(`onnxruntime-node cannot open a graph whose tensors are in external data files (${files.join(', ')}) from bytes; load the model from a folder on disk.`, {
        backend: 'npu',
      });
    }
  }
  const session = source.kind === 'path' ? await ort.InferenceSession.create(source.path, options) : await ort.InferenceSession.create(nodeModelBytes(source.bytes), options);
  return new OrtNodeSession(ort, session);
}

/**
 * A graph file that cannot be read fails the same way on every provider: a `ModelLoadError`,
 * which ends the chain at once. `node:fs` through `process.getBuiltinModule`, so browser bundles
 * see no Node import.
 */
async function checkReadable(path: string): Promise<void> {
  const proc = (globalThis as { process?: { getBuiltinModule?(id: string): unknown } }).process;
  const fs = proc?.getBuiltinModule?.('node:fs/promises') as { access(path: string, mode?: number): Promise<void> } | undefined;
  if (!fs) return;
  try {
    await fs.access(path, 4 /* R_OK */);
  } catch (cause) {
    throw new ModelLoadError(`Cannot read ${path}: ${describeCause(cause)}`, { path, cause });
  }
}

/**
 * Bytes onnxruntime-node accepts: it takes only views of a plain ArrayBuffer, so a view of a
 * SharedArrayBuffer is copied; empty bytes are a `ModelLoadError` (which ends the chain at once).
 */
function nodeModelBytes(bytes: Uint8Array): Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength === 0) throw new ModelLoadError('The model bytes are empty or not a Uint8Array.');
  return bytes.buffer instanceof ArrayBuffer ? bytes : new Uint8Array(bytes);
}

/**
 * What {@link toWebBackendOptions} gives @weft/backend-web: the part of its `WebAdapterOptions`
 * npu sets, declared here because that package is an optional peer.
 */
export interface NpuWebBackendOptions {
  readonly executionProviders: readonly (OrtProviderConfigMap['webnn'] | OrtProviderConfigMap['wasm'])[];
  readonly requireFullOffload?: boolean;
}

/**
 * The web backend's options for one provider opened through it: the `webnn` provider as planned
 * (with `requireFullOffload` when asked, so a graph WebNN cannot run whole fails instead of
 * running partly on wasm), or plain `wasm`, the CPU fallback.
 */
export function toWebBackendOptions(request: Pick<SessionRequest, 'provider' | 'requireFullOffload'>): NpuWebBackendOptions {
  const ort = request.provider.ort;
  if (ort.name !== 'webnn') return { executionProviders: [{ name: 'wasm' }] };
  return { executionProviders: [{ ...ort }], ...(request.requireFullOffload ? { requireFullOffload: true } : {}) };
}

async function createWebSession(request: SessionRequest): Promise<InferenceSession> {
  let web: typeof import('@weft/backend-web');
  try {
    web = await import('@weft/backend-web');
  } catch (cause) {
    throw new BackendError(`${request.provider.name} runs through @weft/backend-web, which is not installed: ${describeCause(cause)}`, { backend: 'npu', cause });
  }
  try {
    // Checked here, where backend-web's types are at hand: npu's options are web options.
    const options: WebAdapterOptions = toWebBackendOptions(request);
    return await new web.WebBackendAdapter(options).createSession(request.source, request.options);
  } catch (error) {
    if (WeftError.isInstance(error)) throw error;
    throw new BackendError(describeCause(error), { backend: 'npu', cause: error });
  }
}
