import { inject, injectable, optional, type ServiceIdentifier } from 'inversify';
import semver from 'semver';
import { PluginError } from '../errors/plugin-error.js';
import { openStage } from '../registry/open-stage.js';
import { ADAPTER_REGISTRY, API_VERSION, GENERATION_HOOKS, WEFT_SERVICES, type OwnedHooks, type WeftServices } from '../runtime/tokens.js';
import type { GenerationHooks } from '../spec/hooks.js';
import type { PluginContext, WeftPlugin } from '../spec/plugin.js';
import type { AdapterRegistry } from '../spec/registry.js';
import { describeCause } from '../util/describe-cause.js';
import { withDeadline } from '../util/with-deadline.js';
import { checkSetupTimeout } from './setup-timeout.js';
import { snapshotHooks } from './snapshot-hooks.js';
import { readManifest, type ManifestSnapshot } from './validate-manifest.js';

export { SETUP_TIMEOUT_MS } from './setup-timeout.js';

/**
 * Installs plugins into one runtime: reads the manifest once and validates it, checks
 * `apiVersion` against the host with semver, rejects duplicate names (and the same plugin object
 * twice), runs `setup` with a timeout, and commits the plugin's registrations, declared kinds and
 * hooks only when setup succeeded — all of them, or none.
 */
@injectable()
export class PluginHost {
  private readonly installed = new Map<string, string>();
  /** Names whose setup is running: a concurrent install of the same name is rejected too. */
  private readonly installing = new Set<string>();
  /** Plugin objects installed or being installed, whatever name they report next time. */
  private readonly objects = new WeakSet<object>();
  /** The plugin whose `setup` is being called, during the synchronous part of that call. */
  private calling: string | undefined;
  /**
   * Loads (or `ready()` calls) of this runtime waiting for setups to finish: a setup that times
   * out while one waits may be awaiting it, and its error says what to do instead.
   */
  waiting = 0;

  constructor(
    @inject(ADAPTER_REGISTRY) private readonly registry: AdapterRegistry,
    @inject(GENERATION_HOOKS) private readonly hooks: OwnedHooks[],
    @inject(API_VERSION) private readonly apiVersion: string,
    @inject(WEFT_SERVICES) @optional() private readonly services?: WeftServices,
  ) {}

  /**
   * The plugin whose `setup` is running the calling code synchronously (e.g. `await weft.load()` as
   * its first step), else undefined. A load started there would wait for that very setup to finish.
   */
  get setupCalling(): string | undefined {
    return this.calling;
  }

  /** Names and versions of installed plugins. */
  list(): readonly { readonly name: string; readonly version: string }[] {
    return [...this.installed].map(([name, version]) => ({ name, version }));
  }

  /**
   * Installs one plugin. Rejects with `InvalidOptionsError` for a bad `timeoutMs` and with a
   * `PluginError` (stage `manifest` or `setup`) for everything the plugin gets wrong. `signal`
   * (the runtime's end) stops waiting for a setup that has not finished, rejecting with its reason.
   */
  async install(plugin: WeftPlugin, timeoutMs?: number, signal?: AbortSignal): Promise<void> {
    const timeout = checkSetupTimeout(timeoutMs);
    const reading = readManifest(plugin, this.apiVersion);
    if (!reading.ok) throw new PluginError(reading.plugin, 'manifest', reading.problem);
    const manifest = reading.manifest;
    const { name } = manifest;
    if (this.installed.has(name) || this.installing.has(name)) {
      throw new PluginError(name, 'manifest', `a plugin named "${name}" is already installed in this runtime`);
    }
    if (this.objects.has(plugin)) {
      throw new PluginError(name, 'manifest', 'this plugin object is already installed in this runtime (under another name)');
    }
    if (!semver.satisfies(this.apiVersion, manifest.apiVersion)) {
      throw new PluginError(
        name,
        'manifest',
        `it needs Weft plugin API ${manifest.apiVersion} but this host implements ${this.apiVersion}; install a matching version`,
      );
    }
    this.installing.add(name);
    this.objects.add(plugin);
    try {
      await this.setUp(plugin, manifest, timeout, signal);
      this.installed.set(name, manifest.version);
    } catch (error) {
      this.objects.delete(plugin);
      throw error;
    } finally {
      this.installing.delete(name);
    }
  }

  /** Calls `setup` (through `call`), noting whose it is while it runs synchronously (see {@link setupCalling}). */
  private callSetup<T>(name: string, call: () => T): T {
    const outer = this.calling;
    this.calling = name;
    try {
      return call();
    } finally {
      this.calling = outer;
    }
  }

  /** Runs setup against a stage and commits what it staged; nothing is kept when it fails. */
  private async setUp(plugin: WeftPlugin, manifest: ManifestSnapshot, timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    const { name } = manifest;
    const stage = openStage(this.registry, name);
    const stagedHooks: GenerationHooks[] = [];
    let open = true;
    const ensureOpen = (call: string): void => {
      if (!open) throw new PluginError(name, call, `${call}() was called after setup finished`);
    };
    const registry = this.registry;
    const context: PluginContext = Object.freeze({
      apiVersion: this.apiVersion,
      pluginName: name,
      get: <T>(token: ServiceIdentifier<T>): T => {
        if (!this.services) throw new PluginError(name, 'setup', 'this host has no DI container to resolve services from');
        return this.services.get(token);
      },
      registry: Object.freeze({
        list: ((kind) => registry.list(kind)) as PluginContext['registry']['list'],
        resolve: ((kind, query) => registry.resolve(kind, query)) as PluginContext['registry']['resolve'],
      }),
      register: ((kind, entry) => {
        ensureOpen('register');
        stage.register(kind, entry);
      }) as PluginContext['register'],
      declareKind: (kind: string) => {
        ensureOpen('declareKind');
        stage.declareKind(kind);
      },
      addHooks: (hooks: GenerationHooks) => {
        ensureOpen('addHooks');
        stagedHooks.push(snapshotHooks(name, hooks));
      },
    });
    try {
      await withDeadline(() => this.callSetup(name, () => Reflect.apply(manifest.setup, plugin, [context]) as unknown), {
        ms: timeoutMs,
        onTimeout: () => new PluginError(name, 'setup', `setup did not finish within ${timeoutMs} ms${this.waiting > 0 ? AWAITED_LOAD_HINT : ''}`),
        signal,
      });
    } catch (cause) {
      if (signal?.aborted && cause === signal.reason) throw cause;
      throw isOwnPluginError(cause, name) ? cause : new PluginError(name, 'setup', describeCause(cause), { cause });
    } finally {
      open = false;
    }
    try {
      stage.commit();
    } catch (cause) {
      throw new PluginError(name, 'setup', describeCause(cause), { cause });
    }
    for (const hooks of stagedHooks) this.hooks.push({ owner: name, hooks });
  }
}

/** Said by a setup timeout while a load waits for setups: the setup may be awaiting it. */
const AWAITED_LOAD_HINT =
  "; a weft.load() or weft.ready() of this runtime was waiting for it, and a setup that awaits one of them waits for itself: load the model lazily (on the plugin's first use) or after the runtime's plugins are ready, not inside setup";

/**
 * True for a `PluginError` about the plugin being installed (its own timeout, a late call, a bad
 * hook set), which passes through as is; a `PluginError` naming any other plugin is wrapped, so a
 * plugin cannot make its failure look like another's.
 */
function isOwnPluginError(cause: unknown, plugin: string): boolean {
  try {
    return PluginError.isInstance(cause) && (cause as PluginError).plugin === plugin;
  } catch {
    return false;
  }
}
