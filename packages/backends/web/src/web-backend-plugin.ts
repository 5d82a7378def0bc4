import { definePlugin, type WeftPlugin } from '@weft/core';
import { VERSION } from './version.js';
import { normaliseWebOptions, WEB_PROVIDERS, type WebBackendOptions } from './web-backend-options.js';
import { WebBackendAdapter } from './web-backend-adapter.js';

/**
 * Registers the `web` backend (onnxruntime-web). Options are validated here, so a bad value fails
 * at `webBackend()` with an `InvalidOptionsError` rather than at the first load.
 *
 * @example createWeft({ plugins: [webBackend({ executionProviders: ['webgpu', 'wasm'] })] })
 */
export function webBackend(options: WebBackendOptions = {}): WeftPlugin {
  // Checked once, then used from the checked copy only.
  const { priority = 50, ...adapterOptions } = normaliseWebOptions(options);
  return definePlugin({
    name: '@weft/backend-web',
    version: VERSION,
    apiVersion: '^0.1.0',
    description: 'onnxruntime-web backend (wasm; WebGPU and WebNN in browsers)',
    setup(ctx) {
      ctx.register('backend', {
        name: 'web',
        priority,
        capabilities: [...WEB_PROVIDERS, 'browser', 'node'],
        description: 'onnxruntime-web: wasm everywhere, WebGPU/WebNN where the browser has them',
        create: () => new WebBackendAdapter(adapterOptions),
      });
    },
  });
}
