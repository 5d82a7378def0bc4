import type { NpuArch, NpuPlatform, PlatformFacts } from './platform.js';
import {
  PROVIDER_RUNTIME,
  deviceClass,
  toOrtProvider,
  type DeviceClass,
  type OrtProviderConfig,
  type ProviderName,
  type ProviderOptions,
  type ProviderRuntime,
} from './providers.js';

/** One provider the adapter will try, with the exact object onnxruntime gets. */
export interface PlannedProvider {
  readonly name: ProviderName;
  readonly device: DeviceClass;
  /** The onnxruntime JavaScript package that appends it. */
  readonly runtime: ProviderRuntime;
  /** The validated Weft-side options. */
  readonly options: ProviderOptions;
  /** Exactly what goes into onnxruntime's `executionProviders`. */
  readonly ort: OrtProviderConfig;
  /** E.g. that its libraries must be installed separately. */
  readonly note?: string;
}

/** A provider left out of the chain before any session was tried. */
export interface SkippedProvider {
  readonly provider: ProviderName;
  readonly reason: string;
}

export interface ProviderPlan {
  readonly platform: NpuPlatform;
  readonly arch: NpuArch;
  /** Providers to try, in order. */
  readonly chain: readonly PlannedProvider[];
  /** Providers of the preferred order that cannot run here, and why. */
  readonly skipped: readonly SkippedProvider[];
}

export interface PlanOptions {
  /** Replaces the platform's preferred order (still checked against what is available). */
  readonly providers?: readonly ProviderOptions[] | undefined;
  /** Names from per-load `session.executionProviders`: keep only these, in this order. */
  readonly only?: readonly ProviderName[] | undefined;
  /** `cpu` (default): end the chain on the CPU (wasm in browsers); `none`: NPU providers only. */
  readonly fallback?: 'cpu' | 'none' | undefined;
}

/**
 * The platform's preferred NPU providers, best first, before availability is checked:
 * Windows on Arm: QNN (Hexagon HTP), then DirectML · Windows x64: OpenVINO (Intel NPU), then
 * DirectML · macOS on Apple silicon and iOS: Core ML · Android: QNN, then NNAPI · Linux arm64:
 * QNN · Linux x64: OpenVINO · browsers: WebNN (`deviceType: 'npu'`). Other architectures
 * (`arch: 'other'`: 32-bit, RISC-V…) get no NPU provider, except DirectML on Windows.
 */
export function preferredProviders(facts: Pick<PlatformFacts, 'platform' | 'arch'>): { providers: ProviderOptions[]; skipped: SkippedProvider[] } {
  const { platform, arch } = facts;
  switch (platform) {
    case 'win32':
      return { providers: arch === 'arm64' ? [{ name: 'qnn' }, { name: 'dml' }] : arch === 'x64' ? [{ name: 'openvino' }, { name: 'dml' }] : [{ name: 'dml' }], skipped: [] };
    case 'darwin':
      return arch === 'arm64'
        ? { providers: [{ name: 'coreml' }], skipped: [] }
        : { providers: [], skipped: [{ provider: 'coreml', reason: 'Intel Macs have no Neural Engine' }] };
    case 'ios':
      return { providers: [{ name: 'coreml' }], skipped: [] };
    case 'android':
      return { providers: [{ name: 'qnn' }, { name: 'nnapi' }], skipped: [] };
    case 'linux':
      return { providers: arch === 'arm64' ? [{ name: 'qnn' }] : arch === 'x64' ? [{ name: 'openvino' }] : [], skipped: [] };
    case 'browser':
      return { providers: [{ name: 'webnn' }], skipped: [] };
    case 'other':
      return { providers: [], skipped: [] };
  }
}

/**
 * Orders, filters and translates providers for these facts. Pure: no runtime is touched. The plan
 * is frozen throughout, so the exact `ort` objects it hands out (to events, to the session
 * factory) cannot be changed on the way to onnxruntime.
 */
export function planProviders(facts: PlatformFacts, options: PlanOptions = {}): ProviderPlan {
  const preferred = options.providers ? { providers: [...options.providers], skipped: [] } : preferredProviders(facts);
  let wanted = preferred.providers;
  const fallback: ProviderOptions = facts.platform === 'browser' ? { name: 'wasm' } : { name: 'cpu' };
  if (options.only) {
    wanted = options.only.map((name) => wanted.find((p) => p.name === name) ?? ({ name } as ProviderOptions));
  } else if ((options.fallback ?? 'cpu') === 'cpu' && !wanted.some((p) => p.name === fallback.name)) {
    wanted = [...wanted, fallback];
  }
  const chain: PlannedProvider[] = [];
  const skipped: SkippedProvider[] = preferred.skipped.map((s) => Object.freeze({ ...s }));
  for (const provider of wanted) {
    const verdict = availability(provider.name, facts);
    if (verdict.reason !== undefined && !verdict.usable) {
      skipped.push(Object.freeze({ provider: provider.name, reason: verdict.reason }));
      continue;
    }
    chain.push(
      Object.freeze({
        name: provider.name,
        device: deviceClass(provider),
        runtime: PROVIDER_RUNTIME[provider.name],
        options: Object.freeze({ ...provider }),
        ort: Object.freeze(toOrtProvider(provider)),
        ...(verdict.reason !== undefined ? { note: verdict.reason } : {}),
      }),
    );
  }
  return Object.freeze({ platform: facts.platform, arch: facts.arch, chain: Object.freeze(chain), skipped: Object.freeze(skipped) });
}

function availability(name: ProviderName, facts: PlatformFacts): { usable: boolean; reason?: string } {
  const runtime = PROVIDER_RUNTIME[name];
  if (runtime === 'onnxruntime-web') {
    if (name === 'wasm') return { usable: true };
    if (facts.webnn?.npu === true) return { usable: true };
    return { usable: false, reason: facts.webnn?.reason ?? 'WebNN with an NPU context is not available here' };
  }
  if (facts.platform === 'browser') return { usable: false, reason: `${name} needs a native onnxruntime; browsers only have WebNN and wasm` };
  const listed = facts.runtimeProviders;
  if (!listed) return { usable: false, reason: `onnxruntime-node is not loadable here: ${facts.runtimeError ?? 'unknown error'}` };
  const entry = listed.find((p) => p.name === name);
  const offered = `the installed onnxruntime offers ${listed.map((p) => p.name).join(', ')}`;
  if (!entry) {
    const why =
      runtime === 'none'
        ? 'no onnxruntime JavaScript binding (1.30) can append OpenVINO'
        : runtime === 'onnxruntime-react-native'
          ? 'NNAPI is appended only by onnxruntime-react-native'
          : name === 'qnn'
            ? 'the published onnxruntime-node binaries are built without QNN; a QNN build of onnxruntime-node is needed'
            : `this onnxruntime-node build has no ${name}`;
    return { usable: false, reason: `not offered: ${offered}; ${why}` };
  }
  if (!entry.bundled) return { usable: true, reason: `listed as not bundled: its runtime libraries must be installed separately` };
  return { usable: true };
}
