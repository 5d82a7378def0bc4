import { AdapterResolutionError } from '../errors/adapter-resolution-error.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { PluginError } from '../errors/plugin-error.js';
import type { Analyzer } from '../spec/analyzer.js';
import type { AttentionRouter } from '../spec/attention-router.js';
import type { KvCacheStore } from '../spec/kv-cache.js';
import type { LogitsProcessor, Sampler } from '../spec/logits.js';
import type { AdapterKind, AdapterKinds, AdapterRegistry, CreateContext, RegisteredEntry } from '../spec/registry.js';
import type { GenerationRequest } from '../spec/request.js';
import { stageFailure } from './stage-runner.js';
import { quoteValue } from '../util/describe-cause.js';
import { WeftError } from '../errors/weft-error.js';
import { readGuarded, readList } from './read-request.js';
import { COMPONENTS_BOUND } from './request-limits.js';
import { StorePool } from './kv/store-pool.js';
import { frozenCopy } from '../util/frozen-copy.js';

/** A component with the plugin it came from (`request` for instances passed in the request). */
export interface Owned<T> {
  readonly owner: string;
  readonly value: T;
  /**
   * The component's `name`, read once when the run resolved it: what stage names, errors and
   * events (`analysis`, the `start` event's `kv`) call it. A component a plugin made without a
   * string name goes by its registry entry's name.
   */
  readonly name: string;
}

/** A router with its `positions` mode as read, once, and checked when the run resolved it. */
export interface CheckedRouter extends Owned<AttentionRouter> {
  readonly positions: 'absolute' | 'cache';
  /** Its `resumesCache`, read once when the run resolved it. */
  readonly resumesCache: boolean;
}

/** The per-request components a generation run uses. */
export interface RunComponents {
  readonly kv: Owned<KvCacheStore>;
  readonly processors: readonly Owned<LogitsProcessor>[];
  readonly analyzers: readonly Owned<Analyzer>[];
  readonly sampler: Owned<Sampler> | undefined;
  readonly router: CheckedRouter | undefined;
  /** Where the store goes back when the run ends without error: set for a `reusable` default store. */
  readonly kvPool?: StorePool | undefined;
  /** The entry `kv` was made from, for another instance; undefined for an instance the request passed. */
  readonly kvSource?: StoreSource | undefined;
}

/** The default store when a request names none. */
export const DEFAULT_KV_STORE = 'fp32';

/** What a loaded model's {@link CreateContext} is made of (the generation context has it). */
export type ModelFacts = Pick<CreateContext, 'tokenizer' | 'config' | 'generationConfig' | 'layout'>;

/**
 * The components of `request`, from the registry where it names them. `context`: the model the
 * request runs on, whose {@link CreateContext} each entry's `create` gets as its second argument
 * (made on the first `create` for the model, then looked up: nothing when nothing is created).
 */
export function resolveComponents(registry: AdapterRegistry, request: GenerationRequest, context?: ModelFacts): RunComponents {
  if (
    request.kv === undefined && request.router === undefined && request.processors === undefined &&
    request.analyzers === undefined && request.sampler === undefined
  ) {
    const entries = defaultEntriesOf(registry);
    // The router first: a store taken from the pool must not be lost to a router that fails to create.
    const router = defaultRouter(entries, context);
    return { kv: defaultStore(entries, context), processors: NONE, analyzers: NONE, sampler: undefined, router, kvPool: entries.kvPool, kvSource: entries.kvSource };
  }
  const processors = list(request.processors, 'processors', (r, i) => pick(registry, 'logits-processor', r, isProcessor, `processors[${i}]`, context));
  const analyzers = list(request.analyzers, 'analyzers', (r, i) => pick(registry, 'analyzer', r, isAnalyzer, `analyzers[${i}]`, context));
  const sampler = request.sampler === undefined ? undefined : pick(registry, 'sampler', request.sampler, isSampler, 'sampler', context);
  // The runtime's defaults for what the request leaves out (looked up once per registry revision).
  const defaults = request.router === undefined || request.kv === undefined ? defaultEntriesOf(registry) : undefined;
  const router = defaults && request.router === undefined
    ? defaultRouter(defaults, context)
    : checkRouter(pick(registry, 'attention-router', request.router!, isRouter, 'router', context));
  if (defaults && request.kv === undefined) {
    return { kv: defaultStore(defaults, context), processors, analyzers, sampler, router, kvPool: defaults.kvPool, kvSource: defaults.kvSource };
  }
  const kv = choose(registry, 'kv-cache', request.kv!, isKvStore, 'kv');
  if (!('entry' in kv)) return { kv, processors, analyzers, sampler, router };
  const kvSource: StoreSource = { entry: kv.entry, options: kv.options, requestedAs: 'kv', pool: undefined };
  return { kv: anotherStore(kvSource, context), processors, analyzers, sampler, router, kvSource };
}

/**
 * Where a run's store came from: its registry entry and options, so that another instance can be
 * made ({@link anotherStore}), as a failover after a run timeout needs (the timed-out run may still
 * read the first instance's tensors).
 */
export interface StoreSource {
  readonly entry: RegisteredEntry<KvCacheStore>;
  readonly options: Readonly<Record<string, unknown>> | undefined;
  /** The request field that named the entry (`kv`); undefined for the runtime's default. */
  readonly requestedAs: string | undefined;
  /** Idle instances of a `reusable` default entry, taken before a new one is made. */
  readonly pool: StorePool | undefined;
}

/** A new instance of a store entry (an idle pooled one where the entry has a pool), for `model`. */
export function anotherStore(source: StoreSource, model: ModelFacts | undefined): Owned<KvCacheStore> {
  return source.pool?.take() ?? instantiate('kv-cache', source.entry, source.options, isKvStore, source.requestedAs, model);
}

/** An entry a request's reference names, with the options it gave, before an instance is made. */
interface Chosen<T> {
  readonly entry: RegisteredEntry<T>;
  readonly options: Readonly<Record<string, unknown>> | undefined;
}

const createContexts = new WeakMap<object, CreateContext>();

/**
 * The {@link CreateContext} of a loaded model (`model` holds its facts): one frozen object per
 * model, made on its first request and looked up after (a WeakMap read per request).
 */
export function createContextOf(model: ModelFacts): CreateContext {
  let context = createContexts.get(model);
  if (context === undefined) {
    // Frozen copies of the model's plain data (made once per model): an entry's `create` cannot
    // change what the model's later requests read (its vocab size, its EOS ids). The tokenizer is
    // the model's own object, shared as it is.
    context = Object.freeze({
      tokenizer: model.tokenizer,
      config: frozenCopy(model.config),
      generationConfig: frozenCopy(model.generationConfig),
      layout: frozenCopy(model.layout),
    });
    createContexts.set(model, context);
  }
  return context;
}

/** The store and router entries a request gets for the components it does not name, per registry. */
interface DefaultEntries {
  readonly revision: number;
  readonly kv: RegisteredEntry<KvCacheStore>;
  readonly router: RegisteredEntry<AttentionRouter> | undefined;
  /** Idle instances of the store entry, when it is `reusable`. */
  readonly kvPool: StorePool | undefined;
  /** The store entry and its pool as a {@link StoreSource} (one object per revision, not per request). */
  readonly kvSource: StoreSource;
}

const defaultEntries = new WeakMap<AdapterRegistry, DefaultEntries>();
const NONE: readonly never[] = Object.freeze([]);


/**
 * The runtime's default store and router entries. Looked up once per registry revision, not per
 * request (this runs on the path to the first token).
 */
function defaultEntriesOf(registry: AdapterRegistry): DefaultEntries {
  let entries = registry.revision === undefined ? undefined : defaultEntries.get(registry);
  if (entries === undefined || entries.revision !== registry.revision) {
    const routerName = runtimeDefault(registry, 'attention-router');
    const kv = registry.resolve('kv-cache', { name: runtimeDefault(registry, 'kv-cache') ?? DEFAULT_KV_STORE });
    // Only with a registry that tracks revisions: the pool lives as long as these entries.
    const kvPool = registry.revision !== undefined && kv.capabilities?.includes(REUSABLE_CAPABILITY) ? new StorePool() : undefined;
    entries = {
      revision: registry.revision ?? -1,
      kv,
      router: routerName === undefined ? undefined : registry.resolve('attention-router', { name: routerName }),
      kvPool,
      kvSource: { entry: kv, options: undefined, requestedAs: undefined, pool: kvPool },
    };
    if (registry.revision !== undefined) defaultEntries.set(registry, entries);
  }
  return entries;
}

/** An idle instance of the default store when its entry is `reusable` and one is left, else a new one. */
function defaultStore(entries: DefaultEntries, context: ModelFacts | undefined): Owned<KvCacheStore> {
  return anotherStore(entries.kvSource, context);
}

/** A new instance of the runtime's default router, when a plugin set one. */
function defaultRouter(entries: DefaultEntries, context: ModelFacts | undefined): CheckedRouter | undefined {
  return entries.router && checkRouter(instantiate('attention-router', entries.router, undefined, isRouter, undefined, context));
}

function checkRouter(router: Owned<AttentionRouter>): CheckedRouter {
  const positions = readMember(router, `The router "${router.name}"'s positions`, 'router', `router "${router.name}"`, () => router.value.positions as unknown);
  if (positions !== undefined && positions !== 'absolute' && positions !== 'cache') {
    const advice = `use 'absolute', 'cache' or leave it out.`;
    throw router.owner === 'request'
      ? new InvalidOptionsError(`The router "${router.name}" has an unknown positions mode ${quoteValue(positions)}; ${advice}`, { option: 'router' })
      : new PluginError(router.owner, `router "${router.name}"`, `it has an unknown positions mode ${quoteValue(positions)}; ${advice}`);
  }
  const resumesCache = readMember(router, `The router "${router.name}"'s resumesCache`, 'router', `router "${router.name}"`, () => router.value.resumesCache === true);
  // The run uses these reads: a getter that answered differently later would get past the check.
  return { ...router, positions: positions ?? 'absolute', resumesCache };
}

/**
 * The entry a plugin marked as this runtime's default for a kind (capability `default`, highest
 * priority first), e.g. `kvQuant({ bits: 4 })` or `sinkWindow({ window: 256 })`.
 */
function runtimeDefault(registry: AdapterRegistry, kind: 'kv-cache' | 'attention-router'): string | undefined {
  return registry.list(kind).find((e) => e.capabilities?.includes(DEFAULT_CAPABILITY))?.name;
}

/** Capability that makes a `kv-cache` or `attention-router` entry the default of its runtime. */
export const DEFAULT_CAPABILITY = 'default';

/**
 * Capability of a `kv-cache` entry whose instances may serve one run after another: `begin`
 * resets every bit of a run's state, and `create` takes no per-run input. A request that names no
 * store then gets an idle instance when there is one, instead of a new one (core's `fp32` entry
 * and `@weft/plugin-kv`'s `kv-quant` have it). Each instance still serves one run at a time.
 */
export const REUSABLE_CAPABILITY = 'reusable';

/** Each item of a request's list of components, read once (a hole is no component). */
function list<T>(value: unknown, option: string, item: (value: unknown, index: number) => T): readonly T[] {
  if (value === undefined) return [];
  const items = readList(value, option, COMPONENTS_BOUND, item);
  if (items === undefined) throw new InvalidOptionsError(`${option} must be an array (got ${quoteValue(value)}).`, { option });
  return items;
}

/**
 * A component the request names or passes: an instance of the kind (which must have a string
 * `name`), or a registry entry's new instance. Everything read from the request's value is read
 * once, here; a getter or proxy trap that throws is an `InvalidOptionsError` naming `where`.
 */
function pick<K extends AdapterKind>(
  registry: AdapterRegistry,
  kind: K,
  ref: unknown,
  isInstance: (v: unknown) => boolean,
  where: string,
  context: ModelFacts | undefined,
): Owned<AdapterKinds[K]> {
  const chosen = choose(registry, kind, ref, isInstance, where);
  return 'entry' in chosen ? instantiate(kind, chosen.entry, chosen.options, isInstance, where, context) : chosen;
}

/** The registry entry (and options) a request's reference names, or the instance it passes: {@link pick} before any instance is made. */
function choose<K extends AdapterKind>(
  registry: AdapterRegistry,
  kind: K,
  ref: unknown,
  isInstance: (v: unknown) => boolean,
  where: string,
): Owned<AdapterKinds[K]> | Chosen<AdapterKinds[K]> {
  const read = readGuarded(`The ${kind} passed as ${where}`, where, (): { instance: true; name: unknown } | { instance: false; name: unknown; options: unknown; keys?: readonly string[] } => {
    if (typeof ref !== 'string' && isInstance(ref)) return { instance: true, name: (ref as { name?: unknown }).name };
    if (looksLikeInstance(ref)) {
      throw new InvalidOptionsError(`The ${kind} ${describedName(ref)}passed in the request (${where}) is not a valid ${kind}: it needs ${REQUIRED_MEMBERS[kind] ?? 'the members its contract requires'}.`, { option: where });
    }
    if (typeof ref === 'string') return { instance: false, name: ref, options: undefined };
    if (typeof ref !== 'object' || ref === null) return { instance: false, name: undefined, options: undefined };
    const named = ref as { readonly name?: unknown; readonly options?: unknown };
    return { instance: false, name: named.name, options: named.options, keys: Object.keys(ref) };
  });
  if (read.instance) {
    if (typeof read.name !== 'string') {
      throw new InvalidOptionsError(
        `The ${kind} passed in the request (${where}) has ${read.name === undefined ? 'no name' : `the name ${quoteValue(read.name)}`}; give it a string name, which names it in errors and events.`,
        { option: where },
      );
    }
    return checkVersion(kind, { owner: 'request', value: ref as AdapterKinds[K], name: read.name });
  }
  // `{ name, option: … }` (a typo) would drop the options silently; `{ nmae: 'fp32' }` has no name
  // to check, and is told which field it meant first.
  const extra = read.keys?.find((key) => key !== 'name' && key !== 'options');
  const meant = extra === undefined ? undefined : referenceFieldMeant(extra);
  // Only for what is a reference with a stray field (a name given, or a field that misspells one);
  // anything else (an array, `{ bits: 4 }` without a name) gets the message below, which says what a reference is.
  if (extra !== undefined && (typeof read.name === 'string' || meant !== undefined)) {
    throw new InvalidOptionsError(`The ${kind} reference ${where} has no field ${quoteValue(extra)}${meant === undefined ? '' : `; did you mean "${meant}"?`} (a reference takes name and options).`, {
      option: where,
    });
  }
  if (typeof read.name !== 'string') {
    throw new InvalidOptionsError(`A ${kind} (${where}) must be a registered name, { name, options }, or an instance (got ${ref === undefined ? 'nothing' : quoteValue(ref)}).`, { option: where });
  }
  return { entry: resolveNamed(registry, kind, read.name, where), options: read.options as Readonly<Record<string, unknown>> | undefined };
}

/**
 * The reference field `key` misspells: `name` or `options` in another case, with spaces around,
 * singular (`option`), or one edit away (`nmae`, `optons`).
 */
function referenceFieldMeant(key: string): 'name' | 'options' | undefined {
  const plain = key.trim().toLowerCase();
  if (plain.length > 12) return undefined;
  for (const field of ['name', 'options'] as const) {
    if (plain === field || (field === 'options' && plain === 'option') || withinOneEdit(plain, field)) return field;
  }
  return undefined;
}

/** Whether `a` becomes `b` by one insertion, deletion, substitution or swap of neighbours. */
function withinOneEdit(a: string, b: string): boolean {
  if (Math.abs(a.length - b.length) > 1) return false;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  if (a.length === b.length) {
    if (a.slice(i + 1) === b.slice(i + 1)) return true;
    return a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2);
  }
  return a.length > b.length ? a.slice(i + 1) === b.slice(i) : a.slice(i) === b.slice(i + 1);
}

/**
 * The registry entry a request's reference names. A name nothing registered is the request's
 * `InvalidOptionsError` (`option`: `where`, e.g. `kv`), with the registry's `AdapterResolutionError`
 * (its message lists the registered entries) as `cause`, and, for a name a bundled plugin
 * registers, which plugin to add.
 */
function resolveNamed<K extends AdapterKind>(registry: AdapterRegistry, kind: K, name: string, where: string): RegisteredEntry<AdapterKinds[K]> {
  try {
    return registry.resolve(kind, { name });
  } catch (cause) {
    if (!AdapterResolutionError.isInstance(cause)) throw cause;
    const plugin = Object.hasOwn(BUNDLED_ENTRIES, kind) ? BUNDLED_ENTRIES[kind as BundledKind].find((p) => p.names.includes(name)) : undefined;
    const hint = plugin === undefined ? '' : `; it comes with ${plugin.package}: add ${plugin.add} to createWeft's plugins (installing ${plugin.package} first if it is not)`;
    throw new InvalidOptionsError(`${String(cause.message)}${hint}.`, { option: where, cause });
  }
}

type BundledKind = 'kv-cache' | 'attention-router' | 'analyzer';

/** Entries the bundled plugins register, per kind: which package brings a name a request used without it. */
const BUNDLED_ENTRIES: Readonly<Record<BundledKind, readonly { readonly names: readonly string[]; readonly package: string; readonly add: string }[]>> = {
  'kv-cache': [
    { names: ['fp16', 'int8', 'int4', 'kivi', 'temporal'], package: '@weft/plugin-kv', add: 'kvCompressors()' },
    { names: ['kv-quant'], package: '@weft/plugin-kv', add: 'kvQuant({ bits })' },
  ],
  'attention-router': [
    {
      names: ['full', 'window', 'sink-window', 'strided', 'heavy-hitter', 'key-norm', 'hybrid', 'content-aware'],
      package: '@weft/plugin-attention',
      add: 'attentionRouters()',
    },
  ],
  analyzer: [{ names: ['router-decisions', 'attention-importance'], package: '@weft/plugin-attention', add: 'attentionRouters()' }],
};

/**
 * An entry's `InvalidOptionsError` for the options a request gave it (or left out), as the request's own
 * `InvalidOptionsError`: the same message with the entry's owner (plugin) added, and `option` under
 * `where`, the request field that named the entry with its index in a list (`kv.group`,
 * `processors[1].size`; `processors[1]` when the entry named no option). Undefined for any other
 * failure, which stays the plugin's `PluginError`.
 */
function refusedOptions(where: string, entry: RegisteredEntry<unknown>, cause: unknown): InvalidOptionsError | undefined {
  const field = where.replace(/\[.*$/, '');
  try {
    if (!InvalidOptionsError.isInstance(cause)) return undefined;
    const named = cause.option;
    const option = typeof named !== 'string' || named === ''
      ? where
      // An entry that names the field itself (`processors.size`) gets the index put in.
      : named === field || named.startsWith(`${field}.`) ? `${where}${named.slice(field.length)}` : `${where}.${named}`;
    return new InvalidOptionsError(`${String(cause.message)} (${entry.owner})`, { option, cause });
  } catch {
    // A cause whose reads throw (a hostile proxy) is the plugin's failure.
    return undefined;
  }
}

/**
 * A new instance from a registered entry, checked to be of its kind. `requestedAs`: the request
 * field that named the entry (with these options, or none), so options it refuses are the
 * request's fault; undefined for a runtime default. `model`: the model the request runs on, whose
 * {@link CreateContext} is `create`'s second argument.
 */
function instantiate<T>(
  kind: AdapterKind,
  entry: RegisteredEntry<T>,
  options: Readonly<Record<string, unknown>> | undefined,
  isInstance: (v: unknown) => boolean,
  requestedAs?: string,
  model?: ModelFacts,
): Owned<T> {
  let value: T;
  try {
    // Called as before when there is no model to tell about (an entry may count its arguments).
    value = model === undefined ? entry.create(options) : entry.create(options, createContextOf(model));
  } catch (cause) {
    // Options the request gave, refused as invalid: the request's error, not the plugin's.
    const refused = requestedAs === undefined ? undefined : refusedOptions(requestedAs, entry, cause);
    // runStage's error, without building the stage name for every request that succeeds.
    throw refused ?? stageFailure(entry.owner, `${kind} "${entry.name}" create`, cause);
  }
  let name: unknown;
  try {
    if (!isInstance(value)) {
      // An async factory: its promise is not used, and its rejection must not go unhandled.
      const promise = isObject(value) && typeof value['then'] === 'function';
      if (promise) (value as unknown as PromiseLike<unknown>).then(undefined, () => {});
      throw new PluginError(
        entry.owner,
        `${kind} "${entry.name}" create`,
        `it did not create a valid ${kind}: it returned ${promise ? 'a promise (create must return the component itself, synchronously)' : describeCreated(value)}, and a ${kind} needs ${REQUIRED_MEMBERS[kind] ?? 'the members its contract requires'}.`,
      );
    }
    name = (value as { name?: unknown }).name;
  } catch (cause) {
    if (WeftError.isInstance(cause)) throw cause;
    throw stageFailure(entry.owner, `${kind} "${entry.name}" create`, cause);
  }
  return checkVersion(kind, { owner: entry.owner, value, name: typeof name === 'string' ? name : entry.name });
}

/** The contract version of stores and routers this core implements. */
const SPECIFICATION_VERSION = 'v1';

/**
 * A store or router as it is, unless it declares a `specificationVersion` other than the one this
 * core implements (one without is taken as implementing it).
 */
function checkVersion<T>(kind: AdapterKind, component: Owned<T>): Owned<T> {
  if (kind !== 'kv-cache' && kind !== 'attention-router') return component;
  const version = readMember(component, `The ${kind} "${component.name}"'s specificationVersion`, kind, `${kind} "${component.name}"`, () => (component.value as { specificationVersion?: unknown }).specificationVersion);
  if (version === undefined || version === SPECIFICATION_VERSION) return component;
  const shown = quoteValue(version);
  throw new PluginError(
    component.owner,
    `${kind} "${component.name}"`,
    `it implements specificationVersion ${shown}, but this version of @weft/core supports "${SPECIFICATION_VERSION}" only; use a release of it built for "${SPECIFICATION_VERSION}" (or a @weft/core that supports ${shown}).`,
  );
}

/**
 * A member of a component, read once: a getter that throws is an `InvalidOptionsError` (`what`,
 * `option`) for an instance the request passed, else a `PluginError` naming the plugin and `stage`.
 */
function readMember<T>(component: Owned<unknown>, what: string, option: string, stage: string, read: () => T): T {
  if (component.owner === 'request') return readGuarded(what, option, read);
  try {
    return read();
  } catch (cause) {
    throw stageFailure(component.owner, stage, cause);
  }
}

/** What an instance of each core kind a request can pass must have. */
const REQUIRED_MEMBERS: Partial<Record<AdapterKind, string>> = {
  'kv-cache': 'begin(), materialize(), append(), bytes(), dispose() and a length',
  'attention-router': 'a select() method',
  'logits-processor': 'a process() method',
  sampler: 'a sample() method',
  analyzer: 'an observe() method',
};

/**
 * Whether a request's object that is not a valid instance was meant as one rather than as a
 * `{ name, options }` reference: it declares a `specificationVersion` or has methods.
 */
function looksLikeInstance(ref: unknown): boolean {
  if (!isObject(ref)) return false;
  if ('specificationVersion' in ref) return true;
  for (const key in ref) if (typeof ref[key] === 'function') return true;
  return false;
}

/** What a factory returned instead of a component: a value, or an object by its first own keys. */
function describeCreated(value: unknown): string {
  if (!isObject(value) || Array.isArray(value)) return quoteValue(value);
  try {
    const keys = Object.keys(value);
    if (keys.length === 0) return 'an empty object';
    const shown = keys.slice(0, 6).map((k) => (typeof value[k] === 'function' ? `${k}()` : k));
    return `an object with ${shown.join(', ')}${keys.length > 6 ? `, … (${keys.length} keys)` : ''}`;
  } catch {
    // A proxy or getter that throws on reading.
    return 'an object';
  }
}

/** `"name" ` when a component has a string name, else nothing. */
function describedName(value: unknown): string {
  const name = isObject(value) ? value['name'] : undefined;
  return typeof name === 'string' ? `"${name}" ` : '';
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isProcessor = (v: unknown): boolean => isObject(v) && typeof v['process'] === 'function';
const isAnalyzer = (v: unknown): boolean => isObject(v) && typeof v['observe'] === 'function';
const isSampler = (v: unknown): boolean => isObject(v) && typeof v['sample'] === 'function';
const isRouter = (v: unknown): boolean => isObject(v) && typeof v['select'] === 'function';
const isKvStore = (v: unknown): boolean =>
  isObject(v) && typeof v['materialize'] === 'function' && typeof v['append'] === 'function' && typeof v['begin'] === 'function';
