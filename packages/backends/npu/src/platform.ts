import { loadRuntime } from './load-runtime.js';

/** Operating systems the chains know. `browser` is any page or worker without Node.js. */
export type NpuPlatform = 'win32' | 'darwin' | 'linux' | 'android' | 'ios' | 'browser' | 'other';
export type NpuArch = 'x64' | 'arm64' | 'other';

/** One entry of onnxruntime-node's `listSupportedBackends()`. */
export interface RuntimeProvider {
  readonly name: string;
  /** False when the provider needs libraries installed separately (CUDA, QNN SDK…). */
  readonly bundled: boolean;
}

/**
 * Everything the planner needs to know about the machine. Detected by
 * {@link detectPlatformFacts}; tests and unusual hosts (Electron on Android, React Native…) pass
 * their own through the `facts` option.
 */
export interface PlatformFacts {
  readonly platform: NpuPlatform;
  readonly arch: NpuArch;
  /** Providers the installed onnxruntime offers (onnxruntime-node's `listSupportedBackends()`); absent when it could not be loaded. */
  readonly runtimeProviders?: readonly RuntimeProvider[] | undefined;
  /** Why `runtimeProviders` is absent. */
  readonly runtimeError?: string | undefined;
  /** WebNN here: whether `navigator.ml.createContext({ deviceType: 'npu' })` succeeds, and if not why. */
  readonly webnn?: { readonly npu: boolean; readonly reason?: string | undefined } | undefined;
}

interface ScopeLike {
  readonly process?: { readonly versions?: { readonly node?: string }; readonly platform?: string; readonly arch?: string };
  readonly navigator?: { readonly ml?: { createContext(options?: { deviceType?: string }): Promise<unknown> } };
}

/** Reads the platform from `process` (Node.js) or `navigator` (browsers). Never throws. */
export async function detectPlatformFacts(scope: object = globalThis): Promise<PlatformFacts> {
  const g = scope as ScopeLike;
  const webnn = await probeWebNnNpu(g);
  if (typeof g.process?.versions?.node !== 'string') return { platform: 'browser', arch: 'other', webnn };
  const platform = normalisePlatform(g.process.platform);
  const arch = g.process.arch === 'x64' || g.process.arch === 'arm64' ? g.process.arch : 'other';
  try {
    const ort = await loadRuntime();
    const runtimeProviders = ort.listSupportedBackends().map((p) => ({ name: p.name, bundled: p.bundled }));
    return { platform, arch, runtimeProviders, webnn };
  } catch (error) {
    return { platform, arch, runtimeError: (error as Error).message, webnn };
  }
}

function normalisePlatform(platform: string | undefined): NpuPlatform {
  switch (platform) {
    case 'win32':
    case 'darwin':
    case 'linux':
    case 'android':
      return platform;
    default:
      return 'other';
  }
}

async function probeWebNnNpu(g: ScopeLike): Promise<PlatformFacts['webnn']> {
  const ml = g.navigator?.ml;
  if (typeof g.process?.versions?.node === 'string') return { npu: false, reason: 'Node.js has no WebNN' };
  if (!ml) return { npu: false, reason: 'navigator.ml is undefined (WebNN is not enabled in this browser)' };
  try {
    await ml.createContext({ deviceType: 'npu' });
    return { npu: true };
  } catch (error) {
    return { npu: false, reason: `navigator.ml.createContext({ deviceType: 'npu' }) failed: ${(error as Error).message}` };
  }
}
