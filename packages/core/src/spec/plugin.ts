import type { AdapterEntry } from './registry.js';

/**
 * Plugin contract. A plugin is a plain object made by `definePlugin`; the host validates the
 * manifest, checks `apiVersion` with semver against its own API version, and calls `setup` once.
 */
export interface WeftPluginManifest {
  /** Unique within a runtime, npm-style (`@scope/name` or `name`). */
  readonly name: string;
  /** The plugin's own semver version. */
  readonly version: string;
  /** Semver range of the Weft plugin API the plugin was written against, e.g. `^0.1.0`. */
  readonly apiVersion: string;
  setup(ctx: PluginContext): void | Promise<void>;
}

/** What a plugin can do during `setup`. Every registration is attributed to the plugin. */
export interface PluginContext {
  /** The host's plugin API version. */
  readonly apiVersion: string;
  /** The plugin's own name, as the host knows it. */
  readonly pluginName: string;
  /** Registers an adapter for an extension point kind (see `AdapterKinds`). */
  register<K extends keyof AdapterKinds>(kind: K, entry: AdapterEntry<AdapterKinds[K]>): void;
  /** Adds stage hooks to every generation run by this runtime (see `GenerationHooks`). */
  addHooks(hooks: import('./hooks.js').GenerationHooks): void;
}

/**
 * Map from kind name to the type an entry of that kind creates. Extended by declaration merging
 * in `spec/index.ts` so each kind's interface lives beside its own spec file.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface AdapterKinds {}
