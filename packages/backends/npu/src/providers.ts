import { InvalidOptionsError, isOptionsObject, quoteValue, readOwnOptions } from '@weft/core';

/**
 * Typed options for each NPU execution provider, keyed by `name`, and their translation to the
 * objects onnxruntime's JavaScript APIs take. Weft-side names are friendly where the runtime's are
 * bit flags (CoreML); everything else uses onnxruntime's own JS option names. Only options that
 * some onnxruntime JS binding forwards are offered: an option that would be silently dropped is
 * rejected instead (see the hints in {@link validateProvider}).
 */

/** Qualcomm AI Engine Direct (Hexagon HTP). Names as in onnxruntime-common's `QnnExecutionProviderOption`. */
export interface QnnProviderOptions {
  readonly name: 'qnn';
  /** QNN backend library by type (default `htp`, the Hexagon NPU). Mutually exclusive with `backendPath`. */
  readonly backendType?: 'htp' | 'cpu' | 'gpu';
  /** Path of the QNN backend library, e.g. `QnnHtp.dll` / `libQnnHtp.so`. Mutually exclusive with `backendType`. */
  readonly backendPath?: string;
  /** Run float graphs in FP16 on the HTP (default true). */
  readonly enableFp16Precision?: boolean;
}

/**
 * Apple Core ML (Neural Engine). onnxruntime-node takes Core ML settings as `coreMlFlags`
 * (COREML_FLAG_*); these fields set those bits.
 */
export interface CoreMlProviderOptions {
  readonly name: 'coreml';
  /**
   * Core ML compute units (default `all`: Core ML may place work on the Neural Engine). The flags
   * API has no `CPUAndNeuralEngine`: `all` is the setting that reaches the Neural Engine.
   */
  readonly computeUnits?: 'all' | 'cpuAndGpu' | 'cpuOnly';
  /** Model type Core ML compiles to (default `mlProgram`, COREML_FLAG_CREATE_MLPROGRAM). */
  readonly modelFormat?: 'mlProgram' | 'neuralNetwork';
  /** Enable Core ML only on devices with a Neural Engine (default true, COREML_FLAG_ONLY_ENABLE_DEVICE_WITH_ANE). */
  readonly requireNeuralEngine?: boolean;
  /** Only take nodes whose inputs have static shapes (COREML_FLAG_ONLY_ALLOW_STATIC_INPUT_SHAPES). */
  readonly staticInputShapesOnly?: boolean;
  /** Also run inside control-flow subgraphs (COREML_FLAG_ENABLE_ON_SUBGRAPH). */
  readonly enableOnSubgraph?: boolean;
}

/** Android NNAPI. Names as in onnxruntime-common's `NnapiExecutionProviderOption` (onnxruntime-react-native). */
export interface NnapiProviderOptions {
  readonly name: 'nnapi';
  /** Allow FP16 relaxation of FP32 graphs (default false). */
  readonly useFP16?: boolean;
  /** Use NCHW layout (default false). */
  readonly useNCHW?: boolean;
  /** Keep NNAPI off its CPU reference device, so it only takes nodes an accelerator runs (default true). */
  readonly cpuDisabled?: boolean;
  /** NNAPI on its CPU device only (default false; contradicts `cpuDisabled`). */
  readonly cpuOnly?: boolean;
}

/** WebNN with an NPU context. Names as in onnxruntime-common's `WebNNExecutionProviderOption`. */
export interface WebNnNpuProviderOptions {
  readonly name: 'webnn';
  /** Always `npu` here; WebNN on CPU or GPU belongs to @weft/backend-web. */
  readonly deviceType?: 'npu';
  readonly powerPreference?: 'default' | 'low-power' | 'high-performance';
}

/** Intel OpenVINO. Keys are onnxruntime's OpenVINO provider-option keys (`device_type`, `precision`…). */
export interface OpenVinoProviderOptions {
  readonly name: 'openvino';
  /** OpenVINO device (default `NPU`). */
  readonly deviceType?: 'NPU' | 'GPU' | 'CPU' | 'AUTO:NPU,CPU' | 'AUTO:NPU,GPU,CPU' | 'HETERO:NPU,CPU';
  /** Inference precision (device default when absent). */
  readonly precision?: 'FP16' | 'FP32' | 'ACCURACY';
  /** Folder where compiled blobs are cached (speeds up later loads). */
  readonly cacheDir?: string;
  /** OpenVINO CPU threads. */
  readonly numThreads?: number;
}

/** DirectML. `deviceId` is the adapter index onnxruntime-node passes to DirectML (DXGI order). */
export interface DmlProviderOptions {
  readonly name: 'dml';
  readonly deviceId?: number;
}

/** The last link of a chain under Node.js: onnxruntime's CPU provider. */
export interface CpuProviderOptions {
  readonly name: 'cpu';
}
/** The last link of a chain in browsers: onnxruntime-web's wasm. */
export interface WasmProviderOptions {
  readonly name: 'wasm';
}

/** Options of one NPU execution provider, told apart by `name`. */
export type NpuProviderOptions =
  | QnnProviderOptions
  | CoreMlProviderOptions
  | NnapiProviderOptions
  | WebNnNpuProviderOptions
  | OpenVinoProviderOptions
  | DmlProviderOptions;
/** Options of any link of a chain: an NPU provider or the CPU/wasm fallback. */
export type ProviderOptions = NpuProviderOptions | CpuProviderOptions | WasmProviderOptions;
/** Names of the NPU execution providers. */
export type NpuProviderName = NpuProviderOptions['name'];
/** Names of every provider a chain may hold. */
export type ProviderName = ProviderOptions['name'];

/** The NPU providers this backend knows, in no particular order (each platform has its own). */
export const NPU_PROVIDERS: readonly NpuProviderName[] = ['qnn', 'coreml', 'nnapi', 'webnn', 'openvino', 'dml'];
/** Every provider name a chain may hold: the NPU providers, then `cpu` and `wasm`. */
export const PROVIDERS: readonly ProviderName[] = [...NPU_PROVIDERS, 'cpu', 'wasm'];

/** What onnxruntime receives for each provider: exactly the object put in `executionProviders`. */
export interface OrtProviderConfigMap {
  qnn: {
    readonly name: 'qnn';
    readonly backendType?: 'htp' | 'cpu' | 'gpu';
    readonly backendPath?: string;
    readonly enableFp16Precision: boolean;
  };
  coreml: { readonly name: 'coreml'; readonly coreMlFlags: number };
  nnapi: { readonly name: 'nnapi'; readonly useFP16: boolean; readonly useNCHW: boolean; readonly cpuDisabled: boolean; readonly cpuOnly: boolean };
  webnn: { readonly name: 'webnn'; readonly deviceType: 'npu'; readonly powerPreference?: 'default' | 'low-power' | 'high-performance' };
  openvino: {
    readonly name: 'openvino';
    readonly device_type: NonNullable<OpenVinoProviderOptions['deviceType']>;
    readonly precision?: NonNullable<OpenVinoProviderOptions['precision']>;
    readonly cache_dir?: string;
    readonly num_of_threads?: string;
  };
  dml: { readonly name: 'dml'; readonly deviceId: number };
  cpu: { readonly name: 'cpu' };
  wasm: { readonly name: 'wasm' };
}
/** The object onnxruntime receives in `executionProviders` for any provider. */
export type OrtProviderConfig = OrtProviderConfigMap[ProviderName];

/** Which onnxruntime JavaScript package can append each provider. */
export type ProviderRuntime = 'onnxruntime-node' | 'onnxruntime-web' | 'onnxruntime-react-native' | 'none';
/** The onnxruntime package that can run each provider (`none`: no published build). */
export const PROVIDER_RUNTIME: Readonly<Record<ProviderName, ProviderRuntime>> = {
  qnn: 'onnxruntime-node', // builds with QNN (the published 1.30 binaries have none)
  coreml: 'onnxruntime-node', // macOS binaries
  dml: 'onnxruntime-node', // Windows binaries
  cpu: 'onnxruntime-node',
  nnapi: 'onnxruntime-react-native',
  webnn: 'onnxruntime-web',
  wasm: 'onnxruntime-web',
  openvino: 'none', // no onnxruntime JavaScript binding appends OpenVINO in 1.30
};

/** The hardware a configured provider targets. */
export type DeviceClass = 'npu' | 'gpu' | 'cpu';

const COREML_FLAGS = {
  USE_CPU_ONLY: 0x001,
  ENABLE_ON_SUBGRAPH: 0x002,
  ONLY_ENABLE_DEVICE_WITH_ANE: 0x004,
  ONLY_ALLOW_STATIC_INPUT_SHAPES: 0x008,
  CREATE_MLPROGRAM: 0x010,
  USE_CPU_AND_GPU: 0x020,
} as const;

const KEYS: Readonly<Record<ProviderName, readonly string[]>> = {
  qnn: ['name', 'backendType', 'backendPath', 'enableFp16Precision'],
  coreml: ['name', 'computeUnits', 'modelFormat', 'requireNeuralEngine', 'staticInputShapesOnly', 'enableOnSubgraph'],
  nnapi: ['name', 'useFP16', 'useNCHW', 'cpuDisabled', 'cpuOnly'],
  webnn: ['name', 'deviceType', 'powerPreference'],
  openvino: ['name', 'deviceType', 'precision', 'cacheDir', 'numThreads'],
  dml: ['name', 'deviceId'],
  cpu: ['name'],
  wasm: ['name'],
};

/** Why an option that looks plausible is not offered. */
const HINTS: Readonly<Record<string, string>> = {
  htpPerformanceMode: "onnxruntime-node's binding forwards only backendType, backendPath and enableFp16Precision to QNN, so htp_performance_mode cannot be set from JavaScript",
  htp_performance_mode: "onnxruntime-node's binding forwards only backendType, backendPath and enableFp16Precision to QNN, so htp_performance_mode cannot be set from JavaScript",
  backend_path: 'use backendPath (onnxruntime JS name)',
  MLComputeUnits: 'use computeUnits; onnxruntime-node takes Core ML settings as coreMlFlags, which have no CPUAndNeuralEngine (use all)',
  ModelFormat: "use modelFormat: 'mlProgram' | 'neuralNetwork'",
  coreMlFlags: 'set computeUnits / modelFormat / requireNeuralEngine / staticInputShapesOnly / enableOnSubgraph; the flags are computed from them',
  device_type: 'use deviceType',
  device_id: 'use deviceId',
};

/** Largest DirectML adapter index (onnxruntime-node reads `deviceId` into a C `int`). */
const MAX_DEVICE_ID = 2 ** 31 - 1;
/** Most OpenVINO threads accepted (as core's thread counts); larger values would reach OpenVINO as exponent strings. */
const MAX_THREADS = 1024;

/**
 * Validates one provider entry (a name or `{ name, ...options }`); returns a frozen copy of its own
 * properties, each read once (inherited ones are ignored), which is what the chain then uses.
 */
export function validateProvider(entry: unknown, option: string): ProviderOptions {
  if (typeof entry === 'string') entry = { name: entry };
  const e = isOptionsObject(entry) ? readOwnOptions(entry, option) : undefined;
  if (e === undefined || typeof e['name'] !== 'string') {
    throw new InvalidOptionsError(`${option} must be a provider name or an object with a "name".`, { option });
  }
  const name = e['name'];
  if (!(PROVIDERS as readonly string[]).includes(name)) {
    throw new InvalidOptionsError(`${option}: ${quoteValue(name)} is not a provider of the npu backend (it has ${PROVIDERS.join(', ')}).`, { option });
  }
  const allowed = KEYS[name as ProviderName];
  for (const key of Object.keys(e)) {
    if (allowed.includes(key)) continue;
    const hint = Object.hasOwn(HINTS, key) ? HINTS[key] : undefined;
    throw new InvalidOptionsError(`${option}: the ${name} provider has no option ${quoteValue(key)}${hint ? ` (${hint})` : ''}; it takes ${allowed.slice(1).join(', ') || 'none'}.`, {
      option: `${option}.${key}`,
    });
  }
  const at = (key: string) => `${option}.${key}`;
  switch (name as ProviderName) {
    case 'qnn':
      oneOf(e['backendType'], ['htp', 'cpu', 'gpu'], at('backendType'));
      nonEmptyString(e['backendPath'], at('backendPath'));
      bool(e['enableFp16Precision'], at('enableFp16Precision'));
      if (e['backendType'] !== undefined && e['backendPath'] !== undefined) {
        throw new InvalidOptionsError(`${option}: backendType and backendPath are mutually exclusive (onnxruntime rejects both).`, { option: at('backendPath') });
      }
      break;
    case 'coreml':
      oneOf(e['computeUnits'], ['all', 'cpuAndGpu', 'cpuOnly'], at('computeUnits'));
      oneOf(e['modelFormat'], ['mlProgram', 'neuralNetwork'], at('modelFormat'));
      for (const key of ['requireNeuralEngine', 'staticInputShapesOnly', 'enableOnSubgraph']) bool(e[key], at(key));
      break;
    case 'nnapi':
      for (const key of ['useFP16', 'useNCHW', 'cpuDisabled', 'cpuOnly']) bool(e[key], at(key));
      if (e['cpuOnly'] === true && e['cpuDisabled'] === true) {
        throw new InvalidOptionsError(`${option}: cpuOnly and cpuDisabled contradict each other.`, { option: at('cpuOnly') });
      }
      break;
    case 'webnn':
      oneOf(e['deviceType'], ['npu'], at('deviceType'));
      oneOf(e['powerPreference'], ['default', 'low-power', 'high-performance'], at('powerPreference'));
      break;
    case 'openvino':
      oneOf(e['deviceType'], ['NPU', 'GPU', 'CPU', 'AUTO:NPU,CPU', 'AUTO:NPU,GPU,CPU', 'HETERO:NPU,CPU'], at('deviceType'));
      oneOf(e['precision'], ['FP16', 'FP32', 'ACCURACY'], at('precision'));
      nonEmptyString(e['cacheDir'], at('cacheDir'));
      intInRange(e['numThreads'], 1, MAX_THREADS, at('numThreads'));
      break;
    case 'dml':
      intInRange(e['deviceId'], 0, MAX_DEVICE_ID, at('deviceId'));
      break;
    case 'cpu':
    case 'wasm':
      break;
  }
  return Object.freeze(e) as unknown as ProviderOptions;
}

/** The exact `executionProviders` entry onnxruntime gets, defaults filled in. */
export function toOrtProvider(options: ProviderOptions): OrtProviderConfig {
  switch (options.name) {
    case 'qnn':
      return {
        name: 'qnn',
        ...(options.backendPath !== undefined ? { backendPath: options.backendPath } : { backendType: options.backendType ?? 'htp' }),
        enableFp16Precision: options.enableFp16Precision ?? true,
      };
    case 'coreml': {
      let flags = 0;
      const units = options.computeUnits ?? 'all';
      if (units === 'cpuOnly') flags |= COREML_FLAGS.USE_CPU_ONLY;
      if (units === 'cpuAndGpu') flags |= COREML_FLAGS.USE_CPU_AND_GPU;
      if ((options.modelFormat ?? 'mlProgram') === 'mlProgram') flags |= COREML_FLAGS.CREATE_MLPROGRAM;
      if (options.requireNeuralEngine ?? true) flags |= COREML_FLAGS.ONLY_ENABLE_DEVICE_WITH_ANE;
      if (options.staticInputShapesOnly === true) flags |= COREML_FLAGS.ONLY_ALLOW_STATIC_INPUT_SHAPES;
      if (options.enableOnSubgraph === true) flags |= COREML_FLAGS.ENABLE_ON_SUBGRAPH;
      return { name: 'coreml', coreMlFlags: flags };
    }
    case 'nnapi':
      return {
        name: 'nnapi',
        useFP16: options.useFP16 ?? false,
        useNCHW: options.useNCHW ?? false,
        cpuDisabled: options.cpuDisabled ?? options.cpuOnly !== true,
        cpuOnly: options.cpuOnly ?? false,
      };
    case 'webnn':
      return { name: 'webnn', deviceType: 'npu', ...(options.powerPreference !== undefined ? { powerPreference: options.powerPreference } : {}) };
    case 'openvino':
      return {
        name: 'openvino',
        device_type: options.deviceType ?? 'NPU',
        ...(options.precision !== undefined ? { precision: options.precision } : {}),
        ...(options.cacheDir !== undefined ? { cache_dir: options.cacheDir } : {}),
        ...(options.numThreads !== undefined ? { num_of_threads: String(options.numThreads) } : {}),
      };
    case 'dml':
      return { name: 'dml', deviceId: options.deviceId ?? 0 };
    case 'cpu':
      return { name: 'cpu' };
    case 'wasm':
      return { name: 'wasm' };
  }
}

/** The hardware a configured provider targets. DirectML's device ids index GPUs (DXGI adapters). */
export function deviceClass(options: ProviderOptions): DeviceClass {
  switch (options.name) {
    case 'qnn':
      if (options.backendPath !== undefined) {
        // The library's own name (QnnHtp.dll, libQnnGpu.so…), not the folders it lies in.
        const file = options.backendPath.slice(Math.max(options.backendPath.lastIndexOf('/'), options.backendPath.lastIndexOf('\\')) + 1);
        return /htp|dsp/i.test(file) ? 'npu' : /gpu/i.test(file) ? 'gpu' : 'cpu';
      }
      return options.backendType === 'cpu' ? 'cpu' : options.backendType === 'gpu' ? 'gpu' : 'npu';
    case 'coreml':
      return options.computeUnits === 'cpuOnly' ? 'cpu' : options.computeUnits === 'cpuAndGpu' ? 'gpu' : 'npu';
    case 'nnapi':
      return options.cpuOnly === true ? 'cpu' : 'npu';
    case 'webnn':
      return 'npu';
    case 'openvino':
      return (options.deviceType ?? 'NPU').includes('NPU') ? 'npu' : options.deviceType === 'GPU' ? 'gpu' : 'cpu';
    case 'dml':
      return 'gpu';
    case 'cpu':
    case 'wasm':
      return 'cpu';
  }
}

function oneOf(value: unknown, allowed: readonly string[], option: string): void {
  if (value !== undefined && (typeof value !== 'string' || !allowed.includes(value))) {
    throw new InvalidOptionsError(`${option} must be one of ${allowed.join(', ')}; got ${quoteValue(value)}.`, { option });
  }
}

function bool(value: unknown, option: string): void {
  if (value !== undefined && typeof value !== 'boolean') throw new InvalidOptionsError(`${option} must be a boolean (got ${quoteValue(value)}).`, { option });
}

/** A path or name handed to native code, where a NUL character would silently cut it short. */
function nonEmptyString(value: unknown, option: string): void {
  if (value !== undefined && (typeof value !== 'string' || value.length === 0 || value.includes('\0'))) {
    throw new InvalidOptionsError(`${option} must be a non-empty string without NUL characters (got ${quoteValue(value)}).`, { option });
  }
}

function intInRange(value: unknown, min: number, max: number, option: string): void {
  if (value !== undefined && !(typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max)) {
    throw new InvalidOptionsError(`${option} must be an integer from ${min} to ${max} (got ${quoteValue(value)}).`, { option });
  }
}
