import { InvalidOptionsError } from '@weft/core';
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

/** The execution providers `planProviders` chose for a platform, in the order to try them. */
export interface ProviderPlan {
  readonly platform: NpuPlatform;
  readonly arch: NpuArch;
  /** Providers to try, in order. */
  readonly chain: readonly PlannedProvider[];
  /** Providers of the preferred order that cannot run here, and why. */
  readonly skipped: readonly SkippedProvider[];
}

/** What a caller (the backend's options) asks of {@link planProviders}. */
export interface PlanOptions {
  /** Replaces the platform's preferred order (still checked against what is available). */
  readonly providers?: readonly ProviderOptions[] | undefined;
  /**
   * Names from `session.executionProviders`: exactly these, in this order (the CPU is not
   * appended; name `cpu` last to keep it). Each keeps the options `providers` gives it.
   */
  readonly only?: readonly ProviderName[] | undefined;
  /**
   * `cpu` (default): end the platform's order, or `providers`, on the CPU (wasm in browsers) when
   * it does not name it. `none`: never plan onnxruntime's CPU provider or wasm: naming `cpu` or
   * `wasm` (in `providers` or `only`) is an `InvalidOptionsError`, and a provider that would run
   * the whole graph on the CPU without saying so (Core ML on an Intel Mac) is skipped.
   */
  readonly fallback?: 'cpu' | 'none' | undefined;
  /**
   * Skip providers that would run the whole graph on onnxruntime's CPU provider without an error
   * (Core ML with `requireNeuralEngine` on an Intel Mac), as `requireFullOffload` asks.
   */
  readonly requireFullOffload?: boolean | undefined;
}

/** The providers that are the CPU itself: the chain's fallback links. */
const CPU_LINKS: readonly ProviderName[] = ['cpu', 'wasm'];

/**
 * Refuses `cpu`/`wasm` in a list under `fallback: 'none'`, which promises that no load runs on
 * the CPU provider: a list that names one contradicts it.
 */
export function refuseCpuUnderNoFallback(names: readonly string[] | undefined, option: string): void {
  const named = names?.find((name) => (CPU_LINKS as readonly string[]).includes(name));
  if (named === undefined) return;
  throw new InvalidOptionsError(
    `${option} names ${named}, but the npu backend's fallback is 'none', which never runs a load on the CPU provider; leave ${named} out, or set fallback: 'cpu'.`,
    { option },
  );
}

/** Apple hardware without a Neural Engine: Macs with Intel processors. */
function lacksNeuralEngine(facts: Pick<PlatformFacts, 'platform' | 'arch'>): boolean {
  return facts.platform === 'darwin' && facts.arch !== 'arm64';
}

const NO_ANE = 'Intel Macs have no Neural Engine';

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
        : { providers: [], skipped: [{ provider: 'coreml', reason: NO_ANE }] };
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
  const noCpu = options.fallback === 'none';
  if (noCpu) {
    refuseCpuUnderNoFallback(options.providers?.map((p) => p.name), 'providers');
    refuseCpuUnderNoFallback(options.only, 'executionProviders');
  }
  const preferred = options.providers ? { providers: [...options.providers], skipped: [] } : preferredProviders(facts);
  let wanted = preferred.providers;
  const fallback: ProviderOptions = facts.platform === 'browser' ? { name: 'wasm' } : { name: 'cpu' };
  if (options.only) {
    // Exactly the names given, in order: a load that names its providers gets no CPU appended.
    wanted = options.only.map((name) => wanted.find((p) => p.name === name) ?? ({ name } as ProviderOptions));
  } else if (!noCpu && !wanted.some((p) => p.name === fallback.name)) {
    wanted = [...wanted, fallback];
  }
  const chain: PlannedProvider[] = [];
  // The platform order's own skips (Core ML on an Intel Mac) are about that order: a load that names its providers gets its own.
  const skipped: SkippedProvider[] = options.only ? [] : preferred.skipped.map((s) => Object.freeze({ ...s }));
  for (const provider of wanted) {
    const verdict = availability(provider.name, facts);
    if (verdict.reason !== undefined && !verdict.usable) {
      skipped.push(Object.freeze({ provider: provider.name, reason: verdict.reason }));
      continue;
    }
    let device = deviceClass(provider);
    const notes = verdict.reason !== undefined ? [verdict.reason] : [];
    if (provider.name === 'coreml' && device !== 'cpu' && lacksNeuralEngine(facts)) {
      if (provider.requireNeuralEngine ?? true) {
        // COREML_FLAG_ONLY_ENABLE_DEVICE_WITH_ANE: Core ML declines, and onnxruntime runs every node on its CPU provider, without an error.
        const why = `${NO_ANE}: with requireNeuralEngine (the default) Core ML takes no part of the graph and onnxruntime runs all of it on its CPU provider`;
        const refusal = noCpu ? "fallback: 'none'" : options.requireFullOffload === true ? 'requireFullOffload' : undefined;
        if (refusal !== undefined) {
          skipped.push(Object.freeze({ provider: provider.name, reason: `${why}, which ${refusal} refuses` }));
          continue;
        }
        device = 'cpu';
        notes.push(why);
      } else if (device === 'npu') {
        device = 'gpu';
        notes.push(`${NO_ANE}: Core ML can use only the GPU and the CPU`);
      }
    }
    chain.push(
      Object.freeze({
        name: provider.name,
        device,
        runtime: PROVIDER_RUNTIME[provider.name],
        options: Object.freeze({ ...provider }),
        ort: Object.freeze(toOrtProvider(provider)),
        ...(notes.length > 0 ? { note: notes.join('; ') } : {}),
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
