import { checkKnownKeys, checkSessionOptions, InvalidOptionsError, type SessionOptions } from '@weft/core';
import type { NpuEvent } from './events.js';
import type { PlatformFacts } from './platform.js';
import { PROVIDERS, validateProvider, type ProviderName, type ProviderOptions } from './providers.js';
import type { NpuSessionFactory } from './session-factory.js';

/** Options of the npu adapter (and of `npuBackend()`, which adds `priority`). */
export interface NpuAdapterOptions {
  /** Session options applied to every model (per-load options override them). */
  readonly defaults?: SessionOptions;
  /**
   * Providers to try, in order, replacing the platform's preferred order (names take each
   * provider's defaults). Providers that cannot run here are still skipped, with a reason.
   */
  readonly providers?: readonly (ProviderName | ProviderOptions)[];
  /** `cpu` (default): end the chain on onnxruntime's CPU provider (wasm in browsers). `none`: fail instead. */
  readonly fallback?: 'cpu' | 'none';
  /**
   * Make a provider fail at load when it cannot take the whole graph (onnxruntime's
   * `session.disable_cpu_ep_fallback`), so the chain moves on instead of splitting the graph
   * between the NPU and the CPU. Default false.
   */
  readonly requireFullOffload?: boolean;
  /** Called with every {@link NpuEvent} (plan, skipped, attempt, failed, selected, exhausted). */
  readonly onEvent?: (event: NpuEvent) => void;
  /** Platform facts to plan with instead of detecting them (tests, unusual hosts). */
  readonly facts?: PlatformFacts | (() => Promise<PlatformFacts>);
  /** Creates one provider's session (default: onnxruntime-node, or onnxruntime-web for webnn/wasm). */
  readonly sessionFactory?: NpuSessionFactory;
}

export interface NpuBackendOptions extends NpuAdapterOptions {
  /** Registry priority for `backend: 'auto'` (default 150, above the node backend's 100). */
  readonly priority?: number;
}

const PLATFORMS = ['win32', 'darwin', 'linux', 'android', 'ios', 'browser', 'other'];
const ARCHES = ['x64', 'arm64', 'other'];

/** Validates the options and returns the provider list as objects (undefined: platform default). */
export function validateNpuOptions(options: NpuBackendOptions): ProviderOptions[] | undefined {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new InvalidOptionsError('npu backend options must be an object.', { option: 'options' });
  // A misspelled option (`fallbak`) would otherwise be ignored without a word.
  checkKnownKeys(options, ['priority', 'defaults', 'providers', 'fallback', 'requireFullOffload', 'onEvent', 'facts', 'sessionFactory'], 'npuBackend', '');
  if (options.priority !== undefined && !Number.isFinite(options.priority)) {
    throw new InvalidOptionsError('priority must be a finite number.', { option: 'priority' });
  }
  if (options.fallback !== undefined && options.fallback !== 'cpu' && options.fallback !== 'none') {
    throw new InvalidOptionsError(`fallback must be 'cpu' or 'none'; got ${JSON.stringify(options.fallback)}.`, { option: 'fallback' });
  }
  if (options.requireFullOffload !== undefined && typeof options.requireFullOffload !== 'boolean') {
    throw new InvalidOptionsError('requireFullOffload must be a boolean.', { option: 'requireFullOffload' });
  }
  for (const key of ['onEvent', 'sessionFactory'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'function') throw new InvalidOptionsError(`${key} must be a function.`, { option: key });
  }
  if (options.facts !== undefined && typeof options.facts !== 'function') validateFacts(options.facts);
  if (options.defaults !== undefined || Object.hasOwn(options, 'defaults')) validateSessionOptions(options.defaults as SessionOptions, 'defaults.');
  if (options.providers === undefined) return undefined;
  if (!Array.isArray(options.providers) || options.providers.length === 0) {
    throw new InvalidOptionsError('providers must be a non-empty array of provider names or { name, ...options }.', { option: 'providers' });
  }
  const providers = options.providers.map((p, i) => validateProvider(p, `providers[${i}]`));
  const seen = new Set<string>();
  for (const p of providers) {
    if (seen.has(p.name)) throw new InvalidOptionsError(`providers lists ${p.name} twice.`, { option: 'providers' });
    seen.add(p.name);
  }
  return providers;
}

/** Checks per-load session options; returns `executionProviders` as provider names. */
export function validateSessionOptions(options: SessionOptions, prefix = ''): ProviderName[] | undefined {
  // The shape (keys, thread counts, level) is core's rule; provider names are this backend's.
  const eps = checkSessionOptions(options, prefix === '' ? 'session' : prefix.replace(/\.$/, '')).executionProviders;
  if (eps === undefined) return undefined;
  const unknown = eps.filter((p) => !(PROVIDERS as readonly string[]).includes(p));
  if (eps.length === 0 || unknown.length > 0) {
    throw new InvalidOptionsError(
      `${prefix}executionProviders must name providers of the npu backend (${PROVIDERS.join(', ')})${unknown.length > 0 ? `; unknown: ${unknown.join(', ')}` : ''}.`,
      { option: `${prefix}executionProviders` },
    );
  }
  return eps as ProviderName[];
}

/** Checks platform facts (the `facts` option, or what a `facts()` function returned). */
export function validateFacts(facts: PlatformFacts, what = 'facts'): void {
  if (typeof facts !== 'object' || facts === null) {
    throw new InvalidOptionsError(`${what} must ${what === 'facts' ? 'be an object or a function returning one' : 'resolve to an object'}.`, { option: 'facts' });
  }
  if (!PLATFORMS.includes(facts.platform)) throw new InvalidOptionsError(`${what}.platform must be one of ${PLATFORMS.join(', ')}.`, { option: 'facts.platform' });
  if (!ARCHES.includes(facts.arch)) throw new InvalidOptionsError(`${what}.arch must be one of ${ARCHES.join(', ')}.`, { option: 'facts.arch' });
  const listed = facts.runtimeProviders as unknown;
  const isEntry = (p: unknown): boolean => typeof p === 'object' && p !== null && typeof (p as { name?: unknown }).name === 'string' && typeof (p as { bundled?: unknown }).bundled === 'boolean';
  if (listed !== undefined && !(Array.isArray(listed) && listed.every(isEntry))) {
    throw new InvalidOptionsError(`${what}.runtimeProviders must be an array of { name, bundled }.`, { option: 'facts.runtimeProviders' });
  }
}
