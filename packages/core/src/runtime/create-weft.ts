import { Container } from 'inversify';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { FullPrecisionKvStore } from '../generation/kv/full-precision-kv-store.js';
import { DEFAULT_KV_STORE } from '../generation/resolve-components.js';
import type { DefaultWeftModel } from '../model/default-weft-model.js';
import { loadModel } from '../model/load-model.js';
import { PluginHost } from '../plugin/plugin-host.js';
import { DefaultAdapterRegistry } from '../registry/default-adapter-registry.js';
import type { WeftPlugin } from '../spec/plugin.js';
import type { LoadOptions, Weft, WeftModel } from '../spec/runtime.js';
import { WEFT_API_VERSION } from './api-version.js';
import { ADAPTER_REGISTRY, API_VERSION, GENERATION_HOOKS, type OwnedHooks } from './tokens.js';

/** Options of {@link createWeft}. */
export interface CreateWeftOptions {
  /** Installed in order; `ready()` reports the first failure. */
  readonly plugins?: readonly WeftPlugin[];
  /** Longest a plugin's setup may take (default 30 s). */
  readonly setupTimeoutMs?: number;
}

/**
 * Creates a Weft runtime with its own DI container, adapter registry and hooks (nothing is
 * global, so runtimes never see each other's plugins).
 *
 * @example
 * const weft = createWeft({ plugins: [nodeBackend()] });
 * const model = await weft.load('./models/story');
 * for await (const text of model.stream({ prompt: 'Once upon a time' })) process.stdout.write(text);
 */
export function createWeft(options: CreateWeftOptions = {}): Weft {
  const plugins = options.plugins ?? [];
  if (!Array.isArray(plugins)) throw new InvalidOptionsError('plugins must be an array of plugins made by definePlugin().', { option: 'plugins' });
  const container = new Container();
  const registry = new DefaultAdapterRegistry();
  container.bind(ADAPTER_REGISTRY).toConstantValue(registry);
  container.bind(GENERATION_HOOKS).toConstantValue([] as OwnedHooks[]);
  container.bind(API_VERSION).toConstantValue(WEFT_API_VERSION);
  container.bind(PluginHost).toSelf().inSingletonScope();
  registry.register('kv-cache', {
    name: DEFAULT_KV_STORE,
    priority: 0,
    description: 'Full-precision cache; feeds present tensors back without copies',
    create: () => new FullPrecisionKvStore(),
  }, '@weft/core');

  const host = container.get(PluginHost);
  const hooks = container.get(GENERATION_HOOKS);
  const models = new Set<DefaultWeftModel>();
  let chain: Promise<void> = Promise.resolve();
  const use = (plugin: WeftPlugin): Promise<void> => {
    const next = chain.then(() => host.install(plugin, options.setupTimeoutMs));
    chain = next.catch(() => {});
    return next;
  };
  const initial = Promise.all(plugins.map((p) => use(p))).then(() => undefined);
  initial.catch(() => {}); // reported through ready() and load()

  return {
    registry,
    use,
    ready: () => initial,
    async load(path: string, loadOptions: LoadOptions = {}): Promise<WeftModel> {
      await initial;
      await chain;
      const model = await loadModel(path, loadOptions, { registry, hooks }, (m) => models.delete(m));
      models.add(model);
      return model;
    },
    async dispose(): Promise<void> {
      await Promise.all([...models].map((m) => m.dispose()));
    },
  };
}
