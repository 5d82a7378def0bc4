import { createRequire } from 'node:module';
import { definePlugin, type SessionOptions, type WeftPlugin } from '@weft/core';
import { NodeBackendAdapter } from './node-backend-adapter.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

/** Options of {@link nodeBackend}. */
export interface NodeBackendOptions {
  /** Registry priority for `backend: 'auto'` (default 100). */
  readonly priority?: number;
  /** Session options applied to every model (per-load options override them). */
  readonly defaults?: SessionOptions;
}

/**
 * Registers the `node` backend (onnxruntime-node).
 *
 * @example createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: 2 } })] })
 */
export function nodeBackend(options: NodeBackendOptions = {}): WeftPlugin {
  return definePlugin({
    name: '@weft/backend-node',
    version,
    apiVersion: '^0.1.0',
    description: 'onnxruntime-node backend',
    setup(ctx) {
      ctx.register('backend', {
        name: 'node',
        priority: options.priority ?? 100,
        capabilities: ['cpu', 'node'],
        description: 'onnxruntime-node (CPU; other providers where the installed binary has them)',
        create: () => new NodeBackendAdapter(options.defaults),
      });
    },
  });
}
