import { checkKnownKeys, checkSessionOptions, InvalidOptionsError, isOptionList, isOptionsObject, quoteValue, readOptionList, readOptionListItem, readOptionListLength, readOwnOptions, type SessionOptions } from '@weft/core';
import type { NpuEvent } from './events.js';
import { refuseCpuUnderNoFallback } from './plan.js';
import type { PlatformFacts, RuntimeProvider } from './platform.js';
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
  /**
   * `cpu` (default): end the chain (the platform's order, or `providers`) on onnxruntime's CPU
   * provider (wasm in browsers). `none`: never run a load on the CPU provider: fail instead;
   * `cpu` or `wasm` named in `providers` or `executionProviders` is an `InvalidOptionsError`.
   * A load's own `session.executionProviders` is taken as it is, in order: the CPU is not
   * appended to it under either setting.
   */
  readonly fallback?: 'cpu' | 'none';
  /**
   * Make a provider fail at load when it cannot take the whole graph (onnxruntime's
   * `session.disable_cpu_ep_fallback`), so the chain moves on instead of splitting the graph
   * between the NPU and the CPU. Default false.
   */
  readonly requireFullOffload?: boolean;
  /**
   * Called with every {@link NpuEvent} (plan, skipped, attempt, failed, selected, exhausted), after
   * it is recorded in the adapter's `events`. A listener that throws, or returns a promise that
   * rejects, does not change the load (the chain goes on, a session made is returned, an error the
   * load ends with is still its own): the first such failure of a load is reported with
   * `console.warn`. Catch inside the listener to handle its errors yourself.
   */
  readonly onEvent?: (event: NpuEvent) => void;
  /** Platform facts to plan with instead of detecting them (tests, unusual hosts). */
  readonly facts?: PlatformFacts | (() => Promise<PlatformFacts>);
  /** Creates one provider's session (default: onnxruntime-node, or onnxruntime-web for webnn/wasm). */
  readonly sessionFactory?: NpuSessionFactory;
  /**
   * Longest wait, in whole milliseconds, for one provider's session. A provider that takes longer
   * counts as failed (the chain moves on) and a session it still delivers is released. Default:
   * no bound per provider (the load's `sessionTimeoutMs` bounds the whole chain).
   */
  readonly providerTimeoutMs?: number;
}

/** Options of `npuBackend()`: the adapter's options and its registry priority. */
export interface NpuBackendOptions extends NpuAdapterOptions {
  /** Registry priority for `backend: 'auto'` (default 150, above the node backend's 100). */
  readonly priority?: number;
}

const PLATFORMS = ['win32', 'darwin', 'linux', 'android', 'ios', 'browser', 'other'];
const ARCHES = ['x64', 'arm64', 'other'];
const OPTION_KEYS = ['priority', 'defaults', 'providers', 'fallback', 'requireFullOffload', 'onEvent', 'facts', 'sessionFactory', 'providerTimeoutMs'];
/** Longest `providerTimeoutMs` (setTimeout's limit). */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Checked options, copied once from what the caller passed, with the provider list as objects. */
export interface NormalisedNpuOptions {
  readonly options: NpuBackendOptions;
  /** undefined: the platform's preferred order. */
  readonly providers: readonly ProviderOptions[] | undefined;
}

/** Validates the options and returns the provider list as objects (undefined: platform default). */
export function validateNpuOptions(options: NpuBackendOptions): ProviderOptions[] | undefined {
  const { providers } = normaliseNpuOptions(options);
  return providers ? [...providers] : undefined;
}

/**
 * Checks the options and returns a frozen copy: each option is read once, and the adapter uses
 * only the copy, so changing the caller's object (or a getter that answers differently later)
 * cannot bring in a value that was never checked.
 */
export function normaliseNpuOptions(value: NpuBackendOptions): NormalisedNpuOptions {
  if (!isOptionsObject(value)) throw new InvalidOptionsError('npu backend options must be an object.', { option: 'options' });
  const options = readOwnOptions(value, '') as { -readonly [K in keyof NpuBackendOptions]: NpuBackendOptions[K] };
  // A misspelled option (`fallbak`) would otherwise be ignored without a word.
  checkKnownKeys(options, OPTION_KEYS, 'npuBackend', '');
  if (options.priority !== undefined && !Number.isFinite(options.priority)) {
    throw new InvalidOptionsError(`priority must be a finite number (got ${quoteValue(options.priority)}).`, { option: 'priority' });
  }
  if (options.fallback !== undefined && options.fallback !== 'cpu' && options.fallback !== 'none') {
    throw new InvalidOptionsError(`fallback must be 'cpu' or 'none'; got ${quoteValue(options.fallback)}.`, { option: 'fallback' });
  }
  if (options.requireFullOffload !== undefined && typeof options.requireFullOffload !== 'boolean') {
    throw new InvalidOptionsError(`requireFullOffload must be a boolean (got ${quoteValue(options.requireFullOffload)}).`, { option: 'requireFullOffload' });
  }
  const timeout = options.providerTimeoutMs as unknown;
  if (timeout !== undefined && !(typeof timeout === 'number' && Number.isInteger(timeout) && timeout >= 1 && timeout <= MAX_TIMEOUT_MS)) {
    throw new InvalidOptionsError(`providerTimeoutMs must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT_MS} (got ${quoteValue(timeout)}).`, { option: 'providerTimeoutMs' });
  }
  for (const key of ['onEvent', 'sessionFactory'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'function') throw new InvalidOptionsError(`${key} must be a function.`, { option: key });
  }
  if (options.facts !== undefined && typeof options.facts !== 'function') options.facts = checkFacts(options.facts);
  if (Object.hasOwn(options, 'defaults')) {
    options.defaults = copySessionOptions(options.defaults, 'defaults');
    validateSessionOptions(options.defaults, 'defaults.');
  }
  let providers: ProviderOptions[] | undefined;
  if (options.providers !== undefined) {
    const list: unknown = options.providers;
    // The length and each item read once: a proxy whose reads throw is an InvalidOptionsError.
    const length = isOptionList(list, 'providers') ? readOptionListLength(list, 'providers') : 0;
    if (length === 0) {
      throw new InvalidOptionsError('providers must be a non-empty array of provider names or { name, ...options }.', { option: 'providers' });
    }
    // Indexed, not map(), which skips holes: a hole in a sparse array is refused. Repeats are
    // refused as they come, so a huge list stops at its first repeated name.
    providers = [];
    const seen = new Set<string>();
    for (let i = 0; i < length; i++) {
      const item = readOptionListItem(list as unknown[], i, 'providers');
      if (item === undefined) throw new InvalidOptionsError(`providers[${i}] is missing: the list has a hole or undefined there (as in [, 'qnn']); remove the extra comma.`, { option: `providers[${i}]` });
      const p = validateProvider(item, `providers[${i}]`);
      if (seen.has(p.name)) throw new InvalidOptionsError(`providers lists ${p.name} twice.`, { option: 'providers' });
      seen.add(p.name);
      providers.push(p);
    }
    options.providers = Object.freeze([...providers]);
  }
  if (options.fallback === 'none') {
    // `none` promises that no load runs on the CPU provider: a list that names it contradicts that.
    refuseCpuUnderNoFallback(providers?.map((p) => p.name), 'providers');
    refuseCpuUnderNoFallback(options.defaults?.executionProviders, 'defaults.executionProviders');
  }
  return { options: Object.freeze(options), providers: providers ? Object.freeze(providers) : undefined };
}

/**
 * Checks session options (a load's, or `defaults`) and returns a copy with each option read once
 * (`undefined` gives `{}`); throws `InvalidOptionsError` naming `prefix` + the key.
 */
export function copySessionOptions(value: unknown, prefix = 'session'): SessionOptions {
  const copy = isOptionsObject(value) ? readOwnOptions(value, prefix) : value;
  const checked = checkSessionOptions(copy, prefix);
  const names = checked.executionProviders;
  if (names === undefined) return checked;
  return { ...checked, executionProviders: [...names] };
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
  // A name listed twice would be tried twice, with its events twice.
  const twice = eps.find((p, i) => eps.indexOf(p) !== i);
  if (twice !== undefined) throw new InvalidOptionsError(`${prefix}executionProviders lists ${twice} twice.`, { option: `${prefix}executionProviders` });
  return eps as ProviderName[];
}

const FACT_KEYS = ['platform', 'arch', 'runtimeProviders', 'runtimeError', 'webnn'];

/**
 * Checks platform facts (the `facts` option, or what a `facts()` function returned) and returns a
 * frozen copy, each field read once.
 */
export function checkFacts(value: unknown, what = 'facts'): PlatformFacts {
  if (!isOptionsObject(value)) {
    throw new InvalidOptionsError(`${what} must ${what === 'facts' ? 'be an object or a function returning one' : 'resolve to an object'}.`, { option: 'facts' });
  }
  const facts = readOwnOptions(value, 'facts');
  // A misspelled field (`runtimeProvider`) would otherwise read as "onnxruntime-node is not loadable".
  checkKnownKeys(facts, FACT_KEYS, what, 'facts');
  if (!PLATFORMS.includes(facts['platform'] as string)) throw new InvalidOptionsError(`${what}.platform must be one of ${PLATFORMS.join(', ')}.`, { option: 'facts.platform' });
  if (!ARCHES.includes(facts['arch'] as string)) throw new InvalidOptionsError(`${what}.arch must be one of ${ARCHES.join(', ')}.`, { option: 'facts.arch' });
  const listed = facts['runtimeProviders'];
  if (listed !== undefined) {
    const entries = isOptionList(listed, 'facts.runtimeProviders') ? readOptionList(listed, 'facts.runtimeProviders').map((p) => (isOptionsObject(p) ? readOwnOptions(p, 'facts.runtimeProviders') : p)) : undefined;
    const isEntry = (p: unknown): boolean => isOptionsObject(p) && typeof (p as RuntimeProvider).name === 'string' && typeof (p as RuntimeProvider).bundled === 'boolean';
    if (entries === undefined || !entries.every(isEntry)) {
      throw new InvalidOptionsError(`${what}.runtimeProviders must be an array of { name, bundled }.`, { option: 'facts.runtimeProviders' });
    }
    facts['runtimeProviders'] = Object.freeze(entries.map((p) => Object.freeze({ name: (p as RuntimeProvider).name, bundled: (p as RuntimeProvider).bundled })));
  }
  if (facts['runtimeError'] !== undefined && typeof facts['runtimeError'] !== 'string') {
    throw new InvalidOptionsError(`${what}.runtimeError must be a string.`, { option: 'facts.runtimeError' });
  }
  const webnn = facts['webnn'];
  if (webnn !== undefined) {
    const w = isOptionsObject(webnn) ? readOwnOptions(webnn, 'facts.webnn') : undefined;
    if (w === undefined || typeof w['npu'] !== 'boolean' || (w['reason'] !== undefined && typeof w['reason'] !== 'string') || Object.keys(w).some((k) => k !== 'npu' && k !== 'reason')) {
      throw new InvalidOptionsError(`${what}.webnn must be { npu: boolean, reason?: string }.`, { option: 'facts.webnn' });
    }
    facts['webnn'] = Object.freeze(w);
  }
  return Object.freeze(facts) as unknown as PlatformFacts;
}
