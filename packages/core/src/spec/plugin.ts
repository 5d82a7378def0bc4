import type { ServiceToken } from './token.js';
import type { GenerationHooks } from './hooks.js';
import type { AdapterEntry, AdapterKind, AdapterKinds, AdapterRegistry } from './registry.js';

/**
 * Plugin contract. A plugin is a plain object made by `definePlugin`; the host reads the manifest
 * once, validates it, checks `apiVersion` with semver against its own API version, and calls
 * `setup` once.
 */
export interface WeftPluginManifest {
  /** Unique within a runtime, npm-style (`@scope/name` or `name`). */
  readonly name: string;
  /** The plugin's own semver version. */
  readonly version: string;
  /**
   * Semver range of the Weft plugin API the plugin was written against, e.g. `^0.1.0`. It must
   * name the API majors it supports: open-ended ranges such as `*` or `>=0.1.0` are rejected.
   */
  readonly apiVersion: string;
  /** One line shown in listings. */
  readonly description?: string;
  /**
   * Registers the plugin's entries and hooks. May be async; it must finish within the runtime's
   * `setupTimeoutMs` (default 30 s). If it throws, none of its registrations take effect and the
   * runtime's `ready()` (and each `load`) rejects with a `PluginError` naming it.
   */
  setup(context: PluginContext): void | Promise<void>;
}

/**
 * A plugin as `definePlugin` returns it: the manifest, validated, with the `WEFT_PLUGIN` mark. The
 * mark is optional in the type: the host checks every manifest at install either way, and a
 * required mark would make a plugin built against another installed copy of `@weft/core` (whose
 * `unique symbol` type differs) fail to type-check, although it runs.
 */
export interface WeftPlugin extends WeftPluginManifest {
  readonly [WEFT_PLUGIN]?: true;
}

/** Brand of objects made by `definePlugin` (a registered symbol, so two copies of core agree). */
export const WEFT_PLUGIN: unique symbol = Symbol.for('@weft/core/WeftPlugin') as never;

/** What a plugin can do during `setup`. Every registration is attributed to the plugin. */
export interface PluginContext {
  /** The host's plugin API version. */
  readonly apiVersion: string;
  /** The plugin's own name, as the host knows it. */
  readonly pluginName: string;
  /**
   * Resolves a DI token of the runtime's container, e.g. `ctx.get(BACKENDS).resolve()` to wrap the
   * best backend registered so far. Extension points see what is registered at the time of the call.
   */
  get<T>(token: ServiceToken<T>): T;
  /** Read-only view of what is registered so far (e.g. to wrap another backend). */
  readonly registry: Pick<AdapterRegistry, 'list' | 'resolve'>;
  /**
   * Registers an adapter for an extension point kind. The entry is checked and copied now
   * (`InvalidOptionsError` for an unknown kind, a malformed entry or a taken name) and reaches the
   * registry only if setup succeeds.
   */
  register<K extends AdapterKind>(kind: K, entry: AdapterEntry<AdapterKinds[K]>): void;
  /**
   * Declares a kind this plugin added to `AdapterKinds` by declaration merging, so `register`
   * accepts it; core's own kinds need no declaration.
   */
  declareKind(kind: string): void;
  /** Adds stage hooks to every generation run by this runtime. */
  addHooks(hooks: GenerationHooks): void;
}
