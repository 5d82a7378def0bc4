import { inject, injectable } from 'inversify';
import semver from 'semver';
import { PluginError } from '../errors/plugin-error.js';
import { WeftError } from '../errors/weft-error.js';
import { ADAPTER_REGISTRY, API_VERSION, GENERATION_HOOKS, type OwnedHooks } from '../runtime/tokens.js';
import type { GenerationHooks } from '../spec/hooks.js';
import type { PluginContext, WeftPlugin } from '../spec/plugin.js';
import type { AdapterEntry, AdapterKind, AdapterRegistry } from '../spec/registry.js';
import { validateManifest } from './validate-manifest.js';

/** Longest a plugin's `setup` may take before it is reported as hung. */
export const SETUP_TIMEOUT_MS = 30_000;

/**
 * Installs plugins into one runtime: validates the manifest, checks `apiVersion` against the
 * host with semver, rejects duplicate names, runs `setup` with a timeout, and commits the
 * plugin's registrations and hooks only when setup succeeded.
 */
@injectable()
export class PluginHost {
  private readonly installed = new Map<string, string>();

  constructor(
    @inject(ADAPTER_REGISTRY) private readonly registry: AdapterRegistry,
    @inject(GENERATION_HOOKS) private readonly hooks: OwnedHooks[],
    @inject(API_VERSION) private readonly apiVersion: string,
  ) {}

  /** Names and versions of installed plugins. */
  list(): readonly { readonly name: string; readonly version: string }[] {
    return [...this.installed].map(([name, version]) => ({ name, version }));
  }

  async install(plugin: WeftPlugin, timeoutMs = SETUP_TIMEOUT_MS): Promise<void> {
    const problem = validateManifest(plugin);
    const name = typeof (plugin as { name?: unknown })?.name === 'string' ? plugin.name : '<unnamed>';
    if (problem) throw new PluginError(name, 'manifest', problem);
    if (this.installed.has(plugin.name)) {
      throw new PluginError(plugin.name, 'manifest', `a plugin named "${plugin.name}" is already installed in this runtime`);
    }
    if (!semver.satisfies(this.apiVersion, plugin.apiVersion)) {
      throw new PluginError(
        plugin.name,
        'manifest',
        `it needs Weft plugin API ${plugin.apiVersion} but this host implements ${this.apiVersion}; install a matching version`,
      );
    }
    const staged: { kind: AdapterKind; entry: AdapterEntry<never> }[] = [];
    const stagedHooks: GenerationHooks[] = [];
    let open = true;
    const context: PluginContext = {
      apiVersion: this.apiVersion,
      pluginName: plugin.name,
      registry: { list: (kind) => this.registry.list(kind), resolve: (kind, query) => this.registry.resolve(kind, query) },
      register: (kind, entry) => {
        if (!open) throw new PluginError(plugin.name, 'register', 'register() was called after setup finished');
        staged.push({ kind, entry: entry as AdapterEntry<never> });
      },
      addHooks: (hooks) => {
        if (!open) throw new PluginError(plugin.name, 'addHooks', 'addHooks() was called after setup finished');
        if (typeof hooks !== 'object' || hooks === null) throw new PluginError(plugin.name, 'addHooks', 'hooks must be an object');
        stagedHooks.push(hooks);
      },
    };
    try {
      await withTimeout(Promise.resolve().then(() => plugin.setup(context)), timeoutMs, plugin.name);
    } catch (cause) {
      if (WeftError.isInstance(cause) && cause.code === 'plugin') throw cause;
      throw new PluginError(plugin.name, 'setup', cause instanceof Error ? cause.message : String(cause), { cause });
    } finally {
      open = false;
    }
    const committed: { kind: AdapterKind; name: string }[] = [];
    try {
      for (const { kind, entry } of staged) {
        this.registry.register(kind, entry, plugin.name);
        committed.push({ kind, name: entry.name });
      }
    } catch (cause) {
      throw new PluginError(plugin.name, 'setup', (cause as Error).message, { cause });
    }
    for (const hooks of stagedHooks) this.hooks.push({ owner: plugin.name, hooks });
    this.installed.set(plugin.name, plugin.version);
  }
}

function withTimeout<T>(work: Promise<T>, ms: number, plugin: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PluginError(plugin, 'setup', `setup did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
