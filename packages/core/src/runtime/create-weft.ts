import { Container, type ServiceIdentifier } from 'inversify';
import { checkKnownKeys } from '../util/known-keys.js';
import { quoteValue } from '../util/describe-cause.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { createFullPrecisionKvStore } from '../generation/kv/full-precision-kv-store.js';
import { DEFAULT_KV_STORE, REUSABLE_CAPABILITY } from '../generation/resolve-components.js';
import type { DefaultWeftModel } from '../model/default-weft-model.js';
import { isAbortSignal, linkedAbortController } from '../util/linked-abort.js';
import { loadModel } from '../model/load-model.js';
import { modelLocation } from '../model/open-model-folder.js';
import { LateSessions } from '../backend/late-sessions.js';
import { snapshotLoadOptions, snapshotOptions } from '../model/read-load-options.js';
import { PluginError } from '../errors/plugin-error.js';
import { PluginHost } from '../plugin/plugin-host.js';
import { DefaultAdapterRegistry } from '../registry/default-adapter-registry.js';
import { BUILT_IN_KINDS, checkKindName } from '../registry/known-kinds.js';
import type { WeftPlugin } from '../spec/plugin.js';
import type { AdapterKind, AdapterRegistry } from '../spec/registry.js';
import type { LoadOptions, Weft, WeftModel } from '../spec/runtime.js';
import { checkSetupTimeout } from '../plugin/setup-timeout.js';
import { hfTokenizerEntry } from '../tokenizer/hf-tokenizer-entry.js';
import { WEFT_API_VERSION } from './api-version.js';
import { extensionPoint } from './extension-point.js';
import { RuntimeDisposedError } from '../errors/runtime-disposed-error.js';
import {
  ADAPTER_REGISTRY,
  API_VERSION,
  extensionPointKind,
  extensionPointToken,
  GENERATION_HOOKS,
  WEFT_SERVICES,
  type OwnedHooks,
  type WeftServices,
} from './tokens.js';

/** Options of {@link createWeft}. */
export interface CreateWeftOptions {
  /** Installed in order; `ready()` reports the first failure. */
  readonly plugins?: readonly WeftPlugin[];
  /**
   * Longest a plugin's setup may take (ms, default 30 000); a whole number from 1 to 2^31 - 1, else
   * `createWeft` throws an `InvalidOptionsError`.
   */
  readonly setupTimeoutMs?: number;
}

/** The keys `createWeft` takes (a record, so the compiler checks none of `CreateWeftOptions` is missing). */
const CREATE_WEFT_SHAPE = { plugins: 'list', setupTimeoutMs: 'value' } as const satisfies Record<keyof CreateWeftOptions, 'list' | 'value'>;
const CREATE_WEFT_KEYS = Object.keys(CREATE_WEFT_SHAPE);

/**
 * Creates a Weft runtime with its own DI container, adapter registry and hooks (nothing is
 * global, so runtimes never see each other's plugins). Every extension point is bound in the
 * container under its token (`weft.get(BACKENDS)`, `weft.get(TOKENIZERS)`…).
 *
 * @example
 * const weft = createWeft({ plugins: [nodeBackend()] });
 * const model = await weft.load('./models/story');
 * for await (const text of model.stream({ prompt: 'Once upon a time' })) process.stdout.write(text);
 * await weft.dispose();
 */
export function createWeft(given: CreateWeftOptions = {}): Weft {
  if (typeof given !== 'object' || given === null || isList(given)) {
    throw new InvalidOptionsError('createWeft takes an options object such as { plugins: [nodeBackend()] }, or nothing.', { option: 'options' });
  }
  // Read once: a getter or proxy trap that throws is an InvalidOptionsError naming the option.
  const options: CreateWeftOptions = snapshotOptions(given, CREATE_WEFT_SHAPE, 'the createWeft options', '');
  // A misspelled key (`plugin:`, `setupTimeoutMS:`) would otherwise leave a runtime without its plugins.
  checkKnownKeys(options, CREATE_WEFT_KEYS, 'createWeft', '');
  const plugins = options.plugins ?? [];
  if (!Array.isArray(plugins)) throw new InvalidOptionsError('plugins must be an array of plugins made by definePlugin().', { option: 'plugins' });
  // Checked here, not at each install: a bad value fails createWeft itself, with or without plugins.
  const setupTimeoutMs = checkSetupTimeout(options.setupTimeoutMs);
  const registry = new DefaultAdapterRegistry();
  registerCoreEntries(registry);
  const container = buildContainer(registry);
  const models = new Set<DefaultWeftModel>();
  const loads = new Set<Promise<unknown>>();
  /** Sessions loads gave up on while they opened: released as they arrive; `dispose()` waits for them. */
  const lateSessions = new LateSessions();
  const ending = new AbortController();
  let disposing: Promise<void> | undefined;
  const closed = (action: string): RuntimeDisposedError =>
    new RuntimeDisposedError(`Cannot ${action}: this Weft runtime was disposed; create a new one with createWeft().`);

  // Bound before anything is resolved, so services the container builds (the plugin host) can inject it.
  const services: WeftServices = Object.freeze({
    get<T>(token: ServiceIdentifier<T>): T {
      if (disposing) throw closed('resolve a service');
      if (!container.isBound(token)) bindDeclaredKind(container, registry, token);
      return container.get(token);
    },
  });
  container.bind(WEFT_SERVICES).toConstantValue(services);
  const host = container.get(PluginHost);
  const hooks = container.get(GENERATION_HOOKS);

  let chain: Promise<void> = Promise.resolve();
  const install = (plugin: WeftPlugin): Promise<void> => {
    const next = chain.then(() => host.install(plugin, setupTimeoutMs, ending.signal));
    chain = next.catch(() => {});
    return next;
  };
  const initial = Promise.all(plugins.map((p) => install(p))).then(() => undefined);
  initial.catch(() => {}); // reported through ready() and load()

  const load = async (path: string, loadOptions: LoadOptions): Promise<WeftModel> => {
    const stopped = (cause?: unknown): RuntimeDisposedError =>
      new RuntimeDisposedError(
        `The Weft runtime was disposed while ${path} was loading; the load stopped and released what it had opened. Create a new runtime with createWeft() to load it.`,
        cause === undefined ? {} : { cause },
      );
    const caller = loadOptions.signal;
    if (caller !== undefined && !isAbortSignal(caller)) {
      throw new InvalidOptionsError('signal must be an AbortSignal (e.g. new AbortController().signal).', { option: 'signal' });
    }
    // Disposing the runtime or the caller's signal stops the load; after it, neither is linked.
    const stop = linkedAbortController(ending.signal, caller);
    try {
      // Counted while waiting, so a setup timing out meanwhile says it may be awaiting this load.
      host.waiting++;
      try {
        await untilAborted(initial.then(() => chain), stop.signal);
      } finally {
        host.waiting--;
      }
      const model = await loadModel(path, loadOptions, { registry, hooks, signal: stop.signal, lateSessions }, (m) => models.delete(m));
      if (disposing) {
        await model.disposeWithRuntime();
        throw stopped();
      }
      models.add(model);
      return model;
    } catch (error) {
      // Whatever ended a load the runtime gave up on, the caller's next step is a new runtime.
      if (disposing) throw stopped(RuntimeDisposedError.isInstance(error) ? undefined : error);
      if (caller?.aborted) throw caller.reason ?? new DOMException(`Loading ${path} was aborted.`, 'AbortError');
      throw error;
    } finally {
      stop.unlink();
    }
  };

  return {
    registry,
    use: (plugin) => {
      if (disposing) return Promise.reject(closed('install a plugin'));
      // Installs run one after another: one started by a setup would wait for that setup to finish.
      const inSetup = host.setupCalling;
      if (inSetup !== undefined) return Promise.reject(awaitsItsOwnSetup(inSetup, 'weft.use()'));
      return install(plugin);
    },
    // Waits for `use()` installs made so far too (they run in order after the initial ones); only
    // a failure among the initial plugins rejects it, as each `use()` reports its own.
    ready: () => {
      const inSetup = host.setupCalling;
      if (inSetup !== undefined) return Promise.reject(awaitsItsOwnSetup(inSetup, 'weft.ready()'));
      const installed = chain; // the installs so far, not later ones
      host.waiting++;
      const done = (): void => void host.waiting--;
      const ready = initial.then(() => installed);
      ready.then(done, done);
      return ready;
    },
    get: services.get,
    load(path: string, loadOptions: LoadOptions = {}): Promise<WeftModel> {
      if (disposing) return Promise.reject(closed('load a model'));
      if (typeof path !== 'string') return Promise.reject(notAPath(path));
      if (typeof loadOptions !== 'object' || loadOptions === null) {
        return Promise.reject(new InvalidOptionsError('load options must be an object such as { backend: "node" }.', { option: 'options' }));
      }
      // A plugin's setup awaiting this load would wait for itself (a load waits for every setup).
      const inSetup = host.setupCalling;
      if (inSetup !== undefined) return Promise.reject(awaitsItsOwnSetup(inSetup, 'weft.load()'));
      let options: LoadOptions;
      let location: string;
      try {
        // Read once, here: a getter or proxy trap that throws is an InvalidOptionsError naming the option.
        options = snapshotLoadOptions(loadOptions);
        // '' and file: URLs: an error of their own, and the URL's path (see modelLocation).
        location = modelLocation(path);
      } catch (error) {
        return Promise.reject(error as Error);
      }
      const task = load(location, options);
      loads.add(task);
      const settle = (): void => void loads.delete(task);
      task.then(settle, settle);
      return task;
    },
    dispose(): Promise<void> {
      disposing ??= (async () => {
        // The reason every unfinished plugin setup and model load rejects with.
        ending.abort(new RuntimeDisposedError('The Weft runtime was disposed before this finished (a plugin setup or a model load); create a new runtime with createWeft().'));
        await Promise.allSettled([...loads]);
        // Sessions still opening when their loads stopped are released before this resolves (each
        // waited for at most its load's disposeTimeoutMs), as are the models' own.
        const [results] = await Promise.all([Promise.allSettled([...models].map((m) => m.disposeWithRuntime())), lateSessions.settled()]);
        const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failure) throw failure.reason;
      })();
      return disposing;
    },
  };
}

/** Core's own entries: the full-precision KV store and the Hugging Face tokenizer. */
function registerCoreEntries(registry: AdapterRegistry): void {
  registry.register('kv-cache', {
    name: DEFAULT_KV_STORE,
    priority: 0,
    capabilities: [REUSABLE_CAPABILITY],
    description: 'Full-precision cache; feeds present tensors back without copies',
    create: createFullPrecisionKvStore,
  }, '@weft/core');
  registry.register('tokenizer', hfTokenizerEntry, '@weft/core');
}

/** A container with the registry, hooks, API version, plugin host and one view per core kind. */
function buildContainer(registry: AdapterRegistry): Container {
  const container = new Container();
  container.bind(ADAPTER_REGISTRY).toConstantValue(registry);
  container.bind(GENERATION_HOOKS).toConstantValue([] as OwnedHooks[]);
  container.bind(API_VERSION).toConstantValue(WEFT_API_VERSION);
  container.bind(PluginHost).toSelf().inSingletonScope();
  for (const kind of BUILT_IN_KINDS as readonly AdapterKind[]) {
    container.bind(extensionPointToken(kind)).toConstantValue(extensionPoint(registry, kind));
  }
  return container;
}

/**
 * Binds the view of a kind added by declaration merging on first use of its token; throws
 * `InvalidOptionsError` for a token that is no extension point.
 */
function bindDeclaredKind(container: Container, registry: AdapterRegistry, token: ServiceIdentifier): void {
  const kind = extensionPointKind(token);
  if (kind === undefined) {
    throw new InvalidOptionsError(
      `This runtime binds nothing to ${describeToken(token)}; resolve a token @weft/core exports (BACKENDS, TOKENIZERS, KV_CACHE_STORES, … ADAPTER_REGISTRY, API_VERSION) or extensionPointToken(kind).`,
      { option: 'token' },
    );
  }
  checkKindName(kind);
  container.bind(token).toConstantValue(extensionPoint(registry, kind as AdapterKind));
}

function describeToken(token: unknown): string {
  if (typeof token === 'symbol') return `Symbol(${Symbol.keyFor(token) ?? token.description ?? ''})`;
  if (typeof token === 'string') return JSON.stringify(token.slice(0, 80));
  if (typeof token === 'function') return `class ${token.name || '(anonymous)'}`;
  return String(token);
}

/** `work`, or a rejection with the signal's reason as soon as it aborts. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as unknown);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as unknown);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * The error for `weft.load()`, `weft.ready()` or `weft.use()` called while `plugin`'s setup runs:
 * each waits for every setup started before it to finish, that one's included, so a setup
 * awaiting them would hang until its timeout.
 */
function awaitsItsOwnSetup(plugin: string, call: 'weft.load()' | 'weft.ready()' | 'weft.use()'): PluginError {
  if (call === 'weft.use()') {
    return new PluginError(
      plugin,
      'setup',
      `setup called weft.use() of its own runtime, which Weft refuses during a setup, awaited or not: plugins install one after another, so the new plugin's install would wait for this setup to finish, and a setup awaiting it would wait for itself until its timeout. ` +
        `Have the application install both plugins (createWeft({ plugins: [...] }) or weft.use() outside setup), or register what the other plugin provides from this setup (ctx.register, ctx.addHooks).`,
    );
  }
  return new PluginError(
    plugin,
    'setup',
    `setup called ${call} of its own runtime, which Weft refuses during a setup, awaited or not: it waits for every plugin's setup to finish, this one's included, so a setup awaiting it would wait for itself until its timeout. ` +
      `Load the model lazily instead (on the plugin's first use, e.g. in a hook or an adapter's create), or in the application after createWeft's plugins are ready (await weft.ready(), then weft.load()).`,
  );
}

/** Whether `value` is a list (an array or typed array), not an options object; a revoked proxy is not. */
function isList(value: object): boolean {
  try {
    return Array.isArray(value) || ArrayBuffer.isView(value);
  } catch {
    return false; // its keys fail to read, which the snapshot reports
  }
}

/** The error for a `load` path that is not a string; a URL object gets the string to pass instead. */
function notAPath(path: unknown): InvalidOptionsError {
  let hint = '';
  try {
    if (typeof URL === 'function' && path instanceof URL) hint = ` (for a URL object, pass ${path.protocol === 'file:' ? "fileURLToPath(url) from 'node:url'" : 'url.href'})`;
  } catch {
    // A Proxy whose prototype cannot be read: no hint.
  }
  return new InvalidOptionsError(`load takes a model folder's path or http(s):// URL as a string, not ${quoteValue(path)}${hint}.`, { option: 'path' });
}
