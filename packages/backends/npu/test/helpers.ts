import { fileURLToPath } from 'node:url';
import { InvalidOptionsError } from '@weft/core';
import type { PlatformFacts, RuntimeProvider } from '../src/index.js';

export { collect, done } from '../../../core/test/events.js';

export const tinyModel = fileURLToPath(new URL('../../../core/test/fixtures/tiny', import.meta.url));
export const tinyGraph = `${tinyModel}/onnx/model.onnx`;

const listed = (...names: string[]): RuntimeProvider[] => names.map((name) => ({ name, bundled: !['cuda', 'tensorrt', 'qnn'].includes(name) }));

/** Platform facts as onnxruntime-node would report them on each kind of machine. */
export const FACTS = {
  /** Snapdragon X laptop with a QNN build of onnxruntime-node. */
  windowsArmQnn: { platform: 'win32', arch: 'arm64', runtimeProviders: listed('cpu', 'dml', 'webgpu', 'qnn') },
  /** Snapdragon X laptop with the published onnxruntime-node 1.30 (no QNN). */
  windowsArmStock: { platform: 'win32', arch: 'arm64', runtimeProviders: listed('cpu', 'dml', 'webgpu') },
  windowsX64: { platform: 'win32', arch: 'x64', runtimeProviders: listed('cpu', 'dml', 'webgpu') },
  macArm: { platform: 'darwin', arch: 'arm64', runtimeProviders: listed('cpu', 'webgpu', 'coreml') },
  macIntel: { platform: 'darwin', arch: 'x64', runtimeProviders: listed('cpu', 'webgpu', 'coreml') },
  ios: { platform: 'ios', arch: 'arm64', runtimeProviders: listed('cpu', 'coreml') },
  /** An Android host whose runtime (e.g. onnxruntime-react-native) lists NNAPI and QNN. */
  android: { platform: 'android', arch: 'arm64', runtimeProviders: listed('cpu', 'nnapi', 'qnn') },
  linuxX64: { platform: 'linux', arch: 'x64', runtimeProviders: listed('cpu', 'webgpu', 'cuda', 'tensorrt') },
  linuxArm: { platform: 'linux', arch: 'arm64', runtimeProviders: listed('cpu') },
  browserNpu: { platform: 'browser', arch: 'other', webnn: { npu: true } },
  browserNoWebNn: { platform: 'browser', arch: 'other', webnn: { npu: false, reason: 'navigator.ml is undefined (WebNN is not enabled in this browser)' } },
} satisfies Record<string, PlatformFacts>;

/** The `InvalidOptionsError` that `make` throws; fails the test if it throws nothing, rethrows anything else. */
export function invalidOptions(make: () => unknown): InvalidOptionsError {
  try {
    make();
  } catch (error) {
    if (InvalidOptionsError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected an InvalidOptionsError');
}
