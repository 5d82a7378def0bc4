import { BackendError } from '@weft/core';

type Ort = typeof import('onnxruntime-node');
let runtime: Promise<Ort> | undefined;

/**
 * Loads onnxruntime-node once, on first use, so importing this package stays cheap and browser
 * bundles (which map onnxruntime-node to nothing) only fail if a native provider is actually used.
 */
export function loadRuntime(): Promise<Ort> {
  runtime ??= import('onnxruntime-node')
    .then((m) => {
      const ort = ((m as { default?: Ort }).default ?? m) as Ort;
      // Browser bundles replace onnxruntime-node with an empty module (package.json "browser").
      if (typeof ort.InferenceSession?.create !== 'function') throw new Error('onnxruntime-node is not part of this (browser) build');
      return ort;
    })
    .catch((cause: unknown) => {
      runtime = undefined;
      throw new BackendError(`onnxruntime-node could not be loaded: ${(cause as Error).message}. Reinstall it for this platform.`, {
        backend: 'npu',
        cause,
      });
    });
  return runtime;
}
