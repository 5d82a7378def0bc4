import { BackendError } from '@weft/core';

type Ort = typeof import('onnxruntime-node');
let runtime: Promise<Ort> | undefined;

/** Loads onnxruntime-node once, on first use, so importing this package stays cheap. */
export function loadRuntime(): Promise<Ort> {
  runtime ??= import('onnxruntime-node')
    .then((m) => ((m as { default?: Ort }).default ?? m) as Ort)
    .catch((cause: unknown) => {
      runtime = undefined;
      throw new BackendError(`onnxruntime-node could not be loaded: ${(cause as Error).message}. Reinstall it for this platform.`, {
        backend: 'node',
        cause,
      });
    });
  return runtime;
}
