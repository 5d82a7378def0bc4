import {
  checkKnownKeys,
  checkSessionOptions,
  describeCause,
  InvalidOptionsError,
  isOptionList,
  isOptionsObject,
  optionKeyLabel,
  quoteValue,
  readOptionListItem,
  readOptionListLength,
  readOwnOptions,
  type SessionOptions,
} from '@weft/core';

/** Execution providers of onnxruntime-web that this backend drives. */
export const WEB_PROVIDERS = ['wasm', 'webgpu', 'webnn'] as const;
/** One of {@link WEB_PROVIDERS}. */
export type WebProviderName = (typeof WEB_PROVIDERS)[number];

/** WebAssembly on the CPU: always present where `WebAssembly` is. */
export interface WasmProviderOptions {
  readonly name: 'wasm';
}

/** WebGPU (browsers with `navigator.gpu`). Option names are onnxruntime-web's. */
export interface WebGpuProviderOptions {
  readonly name: 'webgpu';
  /** Layout for layout-sensitive operators (default `NCHW`). */
  readonly preferredLayout?: 'NCHW' | 'NHWC';
  /**
   * WebGPU validation (default `basic`). Read only by onnxruntime-web's WebGPU builds
   * (`onnxruntime-web/webgpu`, `onnxruntime-web/jspi`): refused without a `runtime` option, since
   * the default build (`import('onnxruntime-web')`) never reads it; with a `runtime` that loads
   * another build it is ignored.
   */
  readonly validationMode?: 'disabled' | 'wgpuOnly' | 'basic' | 'full';
}

/**
 * WebNN (browsers with `navigator.ml`). Option names are onnxruntime-web's; it creates the
 * `MLContext` with `deviceType` and `powerPreference` only (1.30 passes no thread count).
 */
export interface WebNnProviderOptions {
  readonly name: 'webnn';
  /** Device the WebNN context targets (browser default when absent). */
  readonly deviceType?: 'cpu' | 'gpu' | 'npu';
  readonly powerPreference?: 'default' | 'low-power' | 'high-performance';
}

/** A provider by name (its defaults) or with options. */
export type WebExecutionProvider = WebProviderName | WasmProviderOptions | WebGpuProviderOptions | WebNnProviderOptions;

/** Normalised provider entry (always an object). */
export type WebProviderConfig = WasmProviderOptions | WebGpuProviderOptions | WebNnProviderOptions;

/**
 * Where onnxruntime-web finds its `.wasm`/`.mjs` files: a URL prefix (a string, or a `URL` such as
 * `new URL('./ort/', import.meta.url)`), or each file's URL. `URL` objects are taken as their `href`.
 */
export type WasmPaths = string | URL | { readonly wasm?: string | URL; readonly mjs?: string | URL };

/**
 * Loads onnxruntime-web for the web backend: a function of the application's that imports one of
 * its builds, e.g. `() => import('onnxruntime-web/wasm')`, so that the application's bundler sees
 * (and bundles) that build only. It resolves to the module (or an object whose `default` is it).
 */
export type WebRuntimeLoader = () => Promise<unknown>;

/** Options of the web adapter (and of `webBackend()`, which adds `priority`). */
export interface WebAdapterOptions {
  /** Session options applied to every model (per-load options override them). */
  readonly defaults?: SessionOptions;
  /**
   * Providers in order of preference (default `['wasm']`); onnxruntime-web uses the first that
   * initialises here; wins over `defaults.executionProviders`. Per-load
   * `session.executionProviders` (names only) replace this list for that model, a name listed
   * here keeping its options.
   */
  readonly executionProviders?: readonly WebExecutionProvider[];
  /**
   * WebAssembly threads (`ort.env.wasm.numThreads`). 0 or absent: onnxruntime-web's default
   * (min(4, ceil(cores / 2)) where threads are allowed, else 1). Values above 1 need
   * `SharedArrayBuffer` and, in browsers, a cross-origin isolated page; elsewhere onnxruntime-web
   * runs one thread. Process-wide: fixed when the first session is created. Under Node.js with a
   * `runtime` other than onnxruntime-web's Node.js build: 1 (absent or 0), and more is refused.
   */
  readonly numThreads?: number;
  /** `ort.env.wasm.wasmPaths`: where to fetch the runtime files (e.g. a CDN prefix). Process-wide. */
  readonly wasmPaths?: WasmPaths;
  /**
   * Which onnxruntime-web build to run (default: `import('onnxruntime-web')`, the build with
   * WebGPU and WebNN). `() => import('onnxruntime-web/wasm')` runs the wasm-only build: half the
   * download, and faster on wasm; with it `webgpu` and `webnn` are unavailable (found out when a
   * session is created; `probe()` starts nothing). For browsers: under Node.js leave it unset.
   * Process-wide: once a session exists or is being created, a backend whose loader gives another
   * module is refused.
   */
  readonly runtime?: WebRuntimeLoader;
  /**
   * Fail at load instead of letting onnxruntime-web run on wasm the nodes WebNN cannot take
   * (onnxruntime's `session.disable_cpu_ep_fallback`). WebNN only: the providers must be exactly
   * one `webnn` entry (configured, and per load). Default false.
   */
  readonly requireFullOffload?: boolean;
}

/** Options of `webBackend()`: the adapter's options and its registry priority. */
export interface WebBackendOptions extends WebAdapterOptions {
  /** Registry priority for `backend: 'auto'` (default 50, below the node backend's 100). */
  readonly priority?: number;
}

const PROVIDER_KEYS: Record<WebProviderName, readonly string[]> = {
  wasm: ['name'],
  webgpu: ['name', 'preferredLayout', 'validationMode'],
  webnn: ['name', 'deviceType', 'powerPreference'],
};

const OPTION_KEYS = ['priority', 'defaults', 'executionProviders', 'numThreads', 'wasmPaths', 'runtime', 'requireFullOffload'];

/** Validates backend options; throws `InvalidOptionsError` naming the option. */
export function validateWebOptions(options: WebBackendOptions): void {
  normaliseWebOptions(options);
}

/**
 * Checks the options and returns a frozen copy, each option read once (providers as objects):
 * the backend uses only the copy, so a getter that answers differently later, or a change to the
 * caller's object, cannot bring in a value that was never checked. A getter or proxy trap that
 * throws is an `InvalidOptionsError` naming what could not be read.
 */
export function normaliseWebOptions(value: WebBackendOptions): WebBackendOptions {
  if (!isOptionsObject(value)) throw new InvalidOptionsError('web backend options must be an object.', { option: 'options' });
  const options = readOwnOptions(value, '') as { -readonly [K in keyof WebBackendOptions]: WebBackendOptions[K] };
  // A misspelled option (`numthreads`) would otherwise be ignored without a word.
  checkKnownKeys(options, OPTION_KEYS, 'webBackend', '');
  if (options.priority !== undefined && !Number.isFinite(options.priority)) {
    throw new InvalidOptionsError(`priority must be a finite number; got ${quoteValue(options.priority)}.`, { option: 'priority' });
  }
  if (options.numThreads !== undefined && (!Number.isInteger(options.numThreads) || options.numThreads < 0 || options.numThreads > 256)) {
    throw new InvalidOptionsError(`numThreads must be an integer from 0 (onnxruntime-web's default) to 256; got ${quoteValue(options.numThreads)}.`, {
      option: 'numThreads',
    });
  }
  if (options.wasmPaths !== undefined) options.wasmPaths = validateWasmPaths(options.wasmPaths);
  if (options.runtime !== undefined && typeof options.runtime !== 'function') {
    throw new InvalidOptionsError(`runtime must be a function that imports onnxruntime-web, e.g. () => import('onnxruntime-web/wasm'); got ${quoteValue(options.runtime)}.`, {
      option: 'runtime',
    });
  }
  if (options.requireFullOffload !== undefined && typeof options.requireFullOffload !== 'boolean') {
    throw new InvalidOptionsError(`requireFullOffload must be a boolean; got ${quoteValue(options.requireFullOffload)}.`, { option: 'requireFullOffload' });
  }
  if (options.executionProviders !== undefined) options.executionProviders = Object.freeze(normaliseProviders(options.executionProviders, 'executionProviders'));
  if (Object.hasOwn(options, 'defaults')) options.defaults = validateSessionOptions(options.defaults as SessionOptions, 'defaults.');
  if (options.runtime === undefined) refuseValidationMode((options.executionProviders ?? []) as readonly WebProviderConfig[]);
  if (options.requireFullOffload === true) {
    const configured = options.executionProviders ?? options.defaults?.executionProviders;
    checkFullOffload(configured ? normaliseProviders(configured, 'executionProviders') : [{ name: 'wasm' }], 'executionProviders');
  }
  return Object.freeze(options);
}

/**
 * Without a `runtime`, the backend runs onnxruntime-web's default build, which never reads the
 * WebGPU provider's `validationMode` (only its WebGPU builds do): refused rather than ignored.
 */
function refuseValidationMode(providers: readonly WebProviderConfig[]): void {
  const i = providers.findIndex((p) => p.name === 'webgpu' && p.validationMode !== undefined);
  if (i < 0) return;
  throw new InvalidOptionsError(
    `executionProviders[${i}].validationMode: onnxruntime-web's default build, which webBackend() runs without a runtime option, never reads it, so it would be ignored; only its WebGPU builds do: add runtime: () => import('onnxruntime-web/webgpu'), or remove validationMode.`,
    { option: `executionProviders[${i}].validationMode` },
  );
}

/**
 * With `requireFullOffload`, the session must run wholly on WebNN or fail to load, so the list
 * must be exactly one `webnn` entry; throws `InvalidOptionsError` saying why another list cannot be.
 */
export function checkFullOffload(providers: readonly WebProviderConfig[], option: string): void {
  const names = providers.map((p) => p.name);
  if (names.includes('webgpu')) {
    throw new InvalidOptionsError(
      `requireFullOffload works with WebNN only, and ${option} has webgpu: onnxruntime-web's WebGPU provider hands shape computations to the CPU on purpose, so a decoder graph would fail to load with it. Turn requireFullOffload off for webgpu.`,
      { option: 'requireFullOffload' },
    );
  }
  if (names.length !== 1 || names[0] !== 'webnn') {
    throw new InvalidOptionsError(
      `requireFullOffload needs ${option} to be exactly one webnn entry (e.g. [{ name: 'webnn', deviceType: 'npu' }]); got ${names.join(', ')}. With it the graph runs wholly on WebNN or fails to load, so wasm would never run anything.`,
      { option: 'requireFullOffload' },
    );
  }
}

/**
 * Checks the generic session options this backend forwards and returns a copy, each option read
 * once (`undefined` gives `{}`); throws `InvalidOptionsError` naming `prefix` + the key.
 */
export function validateSessionOptions(options: SessionOptions, prefix = ''): SessionOptions {
  const where = prefix === '' ? 'session' : prefix.replace(/\.$/, '');
  const copy: unknown = isOptionsObject(options) ? readOwnOptions(options, where) : options;
  if (isOptionsObject(copy) && (copy as SessionOptions).executionProviders !== undefined) {
    (copy as Record<string, unknown>)['executionProviders'] = readNames((copy as SessionOptions).executionProviders, `${where}.executionProviders`);
  }
  // The shape (keys, thread counts, level) is core's rule; provider names are this backend's.
  const checked = checkSessionOptions(copy, where);
  if (checked.executionProviders !== undefined) normaliseProviders(checked.executionProviders, `${prefix}executionProviders`);
  return checked;
}

/**
 * Turns names into objects and checks every field; a provider listed twice (as a name or an
 * object) is refused. Throws `InvalidOptionsError`.
 */
export function normaliseProviders(list: readonly unknown[], option: string): WebProviderConfig[] {
  const length = isOptionList(list, option) ? readOptionListLength(list, option) : 0;
  if (length === 0) {
    throw new InvalidOptionsError(`${option} must be a non-empty array of ${WEB_PROVIDERS.join(', ')} (names or { name, ...options }).`, { option });
  }
  // Indexed, not map(), which skips holes: `[, 'wasm']` was taken as ['wasm'] here while other
  // backends refused it. Repeats are refused as they come, so a huge list stops at its first one.
  const providers: WebProviderConfig[] = [];
  for (let i = 0; i < length; i++) {
    const item = readOptionListItem(list, i, option);
    if (item === undefined) throw new InvalidOptionsError(`${option}[${i}] is missing: the list has a hole or undefined there (as in [, 'wasm']); remove the extra comma.`, { option: `${option}[${i}]` });
    const provider = normaliseProvider(item, `${option}[${i}]`);
    // onnxruntime-web would register the provider twice; each name takes one entry, with its options.
    if (providers.some((p) => p.name === provider.name)) throw new InvalidOptionsError(`${option} lists ${provider.name} twice.`, { option });
    providers.push(provider);
  }
  return providers;
}

function normaliseProvider(entry: unknown, option: string): WebProviderConfig {
  if (typeof entry === 'string') {
    if (!isProviderName(entry)) throw unknownProvider(entry, option);
    return { name: entry };
  }
  const e = isOptionsObject(entry) ? readOwnOptions(entry, option) : undefined;
  if (e === undefined || typeof e['name'] !== 'string') {
    throw new InvalidOptionsError(`${option} must be a provider name or an object with a "name".`, { option });
  }
  const name = e['name'];
  if (!isProviderName(name)) throw unknownProvider(name, option);
  const extra = Object.keys(e).filter((k) => !PROVIDER_KEYS[name].includes(k));
  if (name === 'webnn' && extra.includes('numThreads')) {
    throw new InvalidOptionsError(
      `${option}.numThreads: onnxruntime-web 1.30 creates the WebNN context with deviceType and powerPreference only, so a WebNN thread count would be ignored; remove it (numThreads of webBackend() sets the wasm threads).`,
      { option: `${option}.numThreads` },
    );
  }
  if (extra.length > 0) {
    throw new InvalidOptionsError(`${option}: the ${name} provider has no option ${extra.map(optionKeyLabel).join(', ')} (it takes ${PROVIDER_KEYS[name].join(', ')}).`, { option });
  }
  if (name === 'webgpu') {
    oneOf(e['preferredLayout'], ['NCHW', 'NHWC'], `${option}.preferredLayout`);
    oneOf(e['validationMode'], ['disabled', 'wgpuOnly', 'basic', 'full'], `${option}.validationMode`);
  } else if (name === 'webnn') {
    oneOf(e['deviceType'], ['cpu', 'gpu', 'npu'], `${option}.deviceType`);
    oneOf(e['powerPreference'], ['default', 'low-power', 'high-performance'], `${option}.powerPreference`);
  }
  return e as unknown as WebProviderConfig;
}

function validateWasmPaths(paths: unknown): WasmPaths {
  if (typeof paths === 'string') {
    if (paths.length === 0) throw new InvalidOptionsError('wasmPaths must not be empty.', { option: 'wasmPaths' });
    return paths;
  }
  // onnxruntime-web takes URL objects too (`new URL('./ort/', import.meta.url)`): kept as their href.
  if (isUrl(paths)) return urlHref(paths, 'wasmPaths');
  if (!isOptionsObject(paths)) {
    throw new InvalidOptionsError(`wasmPaths must be a URL prefix (a string or a URL) or { wasm?, mjs? } URLs; got ${quoteValue(paths)}.`, { option: 'wasmPaths' });
  }
  const copy = readOwnOptions(paths, 'wasmPaths');
  // Any other object (a String, a class instance) has no wasm/mjs of its own: it would be taken as {}.
  const kind = nonPlainKind(paths);
  if (kind !== undefined) {
    throw new InvalidOptionsError(`wasmPaths must be a URL prefix (a string or a URL) or a plain { wasm?, mjs? } object; got ${kind}.`, { option: 'wasmPaths' });
  }
  const extra = Object.keys(copy).filter((k) => k !== 'wasm' && k !== 'mjs');
  if (extra.length > 0) throw new InvalidOptionsError(`wasmPaths has unknown key(s) ${extra.map(optionKeyLabel).join(', ')} (only wasm, mjs).`, { option: 'wasmPaths' });
  for (const key of ['wasm', 'mjs'] as const) {
    const v = copy[key];
    if (isUrl(v)) copy[key] = urlHref(v, `wasmPaths.${key}`);
    else if (v !== undefined && (typeof v !== 'string' || v.length === 0)) {
      throw new InvalidOptionsError(`wasmPaths.${key} must be a non-empty URL string or a URL; got ${quoteValue(v)}.`, { option: `wasmPaths.${key}` });
    }
  }
  return Object.freeze(copy) as WasmPaths;
}

/** Whether `value` is a `URL` of this realm (a Proxy whose traps throw is none). */
function isUrl(value: unknown): value is URL {
  try {
    return typeof URL === 'function' && value instanceof URL;
  } catch {
    return false;
  }
}

/** `url.href`, read once; a subclass whose href throws or is empty is an `InvalidOptionsError`. */
function urlHref(url: URL, option: string): string {
  let href: unknown;
  try {
    href = url.href;
  } catch (cause) {
    throw new InvalidOptionsError(`${option} could not be read: ${describeCause(cause)}`, { option, cause });
  }
  if (typeof href !== 'string' || href.length === 0) throw new InvalidOptionsError(`${option} is a URL whose href is not a non-empty string; got ${quoteValue(href)}.`, { option });
  return href;
}

/**
 * How to name `value` when it is not a plain object (its prototype is neither null nor an
 * `Object.prototype`): `a String`, `a Date`, `an instance of Paths`; undefined for a plain one,
 * or one whose prototype cannot be read (its keys were read already).
 */
function nonPlainKind(value: object): string | undefined {
  try {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto === null || Object.getPrototypeOf(proto) === null) return undefined;
    const name: unknown = (proto as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === 'string' && /^[A-Za-z_$][\w$]{0,40}$/.test(name) ? `a ${name} object` : 'an object that is not a plain object';
  } catch {
    return undefined;
  }
}

function oneOf(value: unknown, allowed: readonly string[], option: string): void {
  if (value !== undefined && (typeof value !== 'string' || !allowed.includes(value))) {
    throw new InvalidOptionsError(`${option} must be one of ${allowed.join(', ')}; got ${quoteValue(value)}.`, { option });
  }
}

function isProviderName(name: string): name is WebProviderName {
  return (WEB_PROVIDERS as readonly string[]).includes(name);
}

function unknownProvider(name: string, option: string): InvalidOptionsError {
  return new InvalidOptionsError(
    `${option}: ${quoteValue(name)} is not a provider of the web backend (it has ${WEB_PROVIDERS.join(', ')}; native providers are in @weft/backend-node and @weft/backend-npu).`,
    { option },
  );
}

/**
 * A copy of a list of provider names for core's shape check: each item read once, stopping at
 * the first that is not a name of this backend or repeats one (so a huge list costs little).
 * Anything but an array is returned as it is, for core to refuse.
 */
function readNames(list: unknown, option: string): unknown {
  if (!isOptionList(list, option)) return list;
  const length = readOptionListLength(list, option);
  const names: unknown[] = [];
  for (let i = 0; i < length; i++) {
    const name = readOptionListItem(list, i, option);
    names.push(name);
    if (typeof name !== 'string' || !isProviderName(name) || names.indexOf(name) !== i) break;
  }
  return names;
}
