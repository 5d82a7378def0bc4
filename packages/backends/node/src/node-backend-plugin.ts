import { createRequire } from 'node:module';
import { checkKnownKeys, checkSessionOptions, definePlugin, InvalidOptionsError, quoteValue, type SessionOptions, type WeftPlugin } from '@weft/core';
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
  checkPluginOptions(options);
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

/** Checks `nodeBackend`'s options where they are written, as the web and npu backends do. */
function checkPluginOptions(options: unknown): asserts options is NodeBackendOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionsError(`nodeBackend options must be an object such as { priority: 100 } (got ${quoteValue(options)}).`, { option: 'options' });
  }
  checkKnownKeys(options, ['priority', 'defaults'], 'nodeBackend', '');
  const { priority, defaults } = options as NodeBackendOptions;
  if (priority !== undefined && !(typeof priority === 'number' && Number.isFinite(priority))) {
    throw new InvalidOptionsError(`priority must be a finite number (got ${quoteValue(priority)}).`, { option: 'priority' });
  }
  checkSessionOptions(defaults, 'defaults');
}
