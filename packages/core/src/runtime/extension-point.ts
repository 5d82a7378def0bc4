import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { ModelLoadError } from '../errors/model-load-error.js';
import { PluginError } from '../errors/plugin-error.js';
import { runStage } from '../generation/stage-runner.js';
import type { AdapterKind, AdapterKinds, AdapterRegistry, ResolveQuery } from '../spec/registry.js';
import type { ExtensionPoint } from '../spec/runtime.js';

/** A typed view of one kind of `registry`; it reads the registry live, so later plugins show up. */
export function extensionPoint<K extends AdapterKind>(registry: AdapterRegistry, kind: K): ExtensionPoint<K> {
  return Object.freeze({
    kind,
    list: () => registry.list(kind),
    resolve: (query?: ResolveQuery) => registry.resolve(kind, query),
    create(nameOrQuery?: string | ResolveQuery, options?: Readonly<Record<string, unknown>>): AdapterKinds[K] {
      const entry = registry.resolve(kind, typeof nameOrQuery === 'string' ? { name: nameOrQuery } : nameOrQuery);
      const stage = `${kind} "${entry.name}" create`;
      let value: unknown;
      try {
        value = runStage(entry.owner, stage, () => entry.create(options));
      } catch (error) {
        throw callerError(error, entry.owner) ?? error;
      }
      if (value === null || value === undefined) throw new PluginError(entry.owner, stage, `create() returned ${String(value)}`);
      return value as AdapterKinds[K];
    },
  });
}

/**
 * The error to pass on as is when an entry's `create()` failed because of what the caller gave it
 * (`InvalidOptionsError` for bad options, `ModelLoadError` for unusable model files), not a fault
 * of the plugin.
 */
export function callerError(error: unknown, owner: string): Error | undefined {
  const cause = PluginError.isInstance(error) && error.plugin === owner ? error.cause : error;
  return InvalidOptionsError.isInstance(cause) || ModelLoadError.isInstance(cause) ? cause : undefined;
}
