import { describeCause } from '@weft/core';
import { loadRuntime } from './load-runtime.js';

/** Operating systems the chains know. `browser` is any page or worker without Node.js. */
export type NpuPlatform = 'win32' | 'darwin' | 'linux' | 'android' | 'ios' | 'browser' | 'other';
/** CPU architectures the chains know. */
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

/** Longest wait for WebNN's `createContext({ deviceType: 'npu' })` while detecting (ms). */
export const WEBNN_PROBE_TIMEOUT_MS = 10_000;

/**
 * Reads the platform from `process` (Node.js) or `navigator` (browsers). Never throws. In a
 * browser it creates a WebNN context with `deviceType: 'npu'`, destroys it again, and takes a
 * context that does not arrive within 10 s as no NPU.
 */
export async function detectPlatformFacts(scope: object = globalThis): Promise<PlatformFacts> {
  const g = scope as ScopeLike;
  const webnn = await probeWebNnNpu(g);
  if (typeof g.process?.versions?.node !== 'string') return { platform: 'browser', arch: 'other', webnn };
  const platform = normalisePlatform(g.process.platform);
  const arch = g.process.arch === 'x64' || g.process.arch === 'arm64' ? g.process.arch : 'other';
  try {
    const ort = await loadRuntime();
    const listed: unknown = ort.listSupportedBackends();
    if (!Array.isArray(listed)) throw new Error(`listSupportedBackends() returned ${describeCause(listed)}, not a list`);
    const runtimeProviders = listed
      .filter((p: unknown): p is RuntimeProvider => typeof (p as RuntimeProvider | null)?.name === 'string')
      .map((p) => ({ name: p.name, bundled: p.bundled === true }));
    return { platform, arch, runtimeProviders, webnn };
  } catch (error) {
    return { platform, arch, runtimeError: describeCause(error), webnn };
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
  const asked = "navigator.ml.createContext({ deviceType: 'npu' })";
  let context: Promise<unknown>;
  try {
    context = Promise.resolve(ml.createContext({ deviceType: 'npu' }));
  } catch (error) {
    context = Promise.reject(error as unknown);
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), WEBNN_PROBE_TIMEOUT_MS);
  });
  try {
    const answer = await Promise.race([context.then((c) => ({ context: c })), late]);
    if (answer === 'late') {
      // Destroyed if it ever arrives: a detection must not keep an NPU context open.
      context.then(destroyContext, () => {});
      return { npu: false, reason: `${asked} did not answer within ${WEBNN_PROBE_TIMEOUT_MS} ms` };
    }
    destroyContext(answer.context);
    return { npu: true };
  } catch (error) {
    return { npu: false, reason: `${asked} failed: ${describeCause(error)}` };
  } finally {
    clearTimeout(timer);
  }
}

/** Frees a WebNN context made only to see whether one can be made (`MLContext.destroy()`, where the browser has it). */
function destroyContext(context: unknown): void {
  try {
    const destroy = (context as { destroy?: unknown } | null | undefined)?.destroy;
    if (typeof destroy === 'function') destroy.call(context);
  } catch {
    // The answer (an NPU context can be made) stands either way.
  }
}
