import { definePlugin, type WeftPlugin } from '@weft/core';
import { normaliseNpuOptions, type NpuBackendOptions } from './npu-backend-options.js';
import { NpuBackendAdapter } from './npu-backend-adapter.js';
import { NPU_PROVIDERS } from './providers.js';
import { VERSION } from './version.js';

/**
 * Registers the `npu` backend. Its priority (150) is above the node backend's, and its probe says
 * available only where an NPU provider is offered, so `backend: 'auto'` takes the NPU where there
 * is one and falls through to `node` elsewhere.
 *
 * @example createWeft({ plugins: [nodeBackend(), npuBackend({ onEvent: (e) => console.log(e) })] })
 */
export function npuBackend(options: NpuBackendOptions = {}): WeftPlugin {
  // Checked here, and used from the checked copy: later changes to `options` change nothing.
  const { priority = 150, ...adapterOptions } = normaliseNpuOptions(options).options;
  return definePlugin({
    name: '@weft/backend-npu',
    version: VERSION,
    apiVersion: '^0.1.0',
    description: 'NPU execution providers of onnxruntime with a CPU fallback chain',
    setup(ctx) {
      ctx.register('backend', {
        name: 'npu',
        priority,
        capabilities: ['npu', ...NPU_PROVIDERS, 'cpu'],
        description: 'onnxruntime NPU providers (QNN, Core ML, NNAPI, WebNN, OpenVINO, DirectML), falling back to the CPU',
        create: () => new NpuBackendAdapter(adapterOptions),
      });
    },
  });
}
