import {
  BackendError,
  InvalidOptionsError,
  type BackendAdapter,
  type BackendProbe,
  type InferenceSession,
  type ModelSource,
  type SessionOptions,
} from '@weft/core';
import type * as ortTypes from 'onnxruntime-node';
import { loadRuntime } from './load-runtime.js';
import { NodeSession } from './node-session.js';

const LEVELS = ['disabled', 'basic', 'extended', 'all'] as const;

/** Weft backend on onnxruntime-node. Usable directly or registered through `nodeBackend()`. */
export class NodeBackendAdapter implements BackendAdapter {
  readonly specificationVersion = 'v1' as const;
  readonly name = 'node';

  constructor(private readonly defaults: SessionOptions = {}) {}

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

  async createSession(source: ModelSource, options: SessionOptions = {}): Promise<InferenceSession> {
    const ort = await loadRuntime();
    const merged = { ...this.defaults, ...options };
    const sessionOptions = toOrtOptions(merged, ort.listSupportedBackends().map((p) => p.name));
    try {
      const session =
        source.kind === 'path'
          ? await ort.InferenceSession.create(source.path, sessionOptions)
          : await ort.InferenceSession.create(source.bytes, sessionOptions);
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

/** Maps Weft's session options to onnxruntime's, validating each. */
export function toOrtOptions(options: SessionOptions, knownProviders: readonly string[]): ortTypes.InferenceSession.SessionOptions {
  const out: ortTypes.InferenceSession.SessionOptions = {};
  for (const key of ['intraOpNumThreads', 'interOpNumThreads'] as const) {
    const v = options[key];
    if (v === undefined) continue;
    if (!Number.isInteger(v) || v < 0) throw new InvalidOptionsError(`${key} must be an integer >= 0 (0 = runtime default).`, { option: key });
    out[key] = v;
  }
  if (options.graphOptimizationLevel !== undefined) {
    if (!LEVELS.includes(options.graphOptimizationLevel)) {
      throw new InvalidOptionsError(`graphOptimizationLevel must be one of ${LEVELS.join(', ')}.`, { option: 'graphOptimizationLevel' });
    }
    out.graphOptimizationLevel = options.graphOptimizationLevel;
  }
  if (options.executionProviders !== undefined) {
    const unknown = options.executionProviders.filter((p) => !knownProviders.includes(p));
    if (unknown.length > 0) {
      throw new InvalidOptionsError(
        `Execution provider(s) ${unknown.join(', ')} are not in this onnxruntime-node build (it has: ${knownProviders.join(', ')}).`,
        { option: 'executionProviders' },
      );
    }
    out.executionProviders = [...options.executionProviders];
  }
  return out;
}

function describeUnbundled(providers: readonly { name: string; bundled: boolean }[]): string | undefined {
  const extra = providers.filter((p) => !p.bundled).map((p) => p.name);
  return extra.length > 0 ? `${extra.join(', ')} need their runtime libraries installed separately` : undefined;
}
