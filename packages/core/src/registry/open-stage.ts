import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import type { AdapterRegistry, RegisteredEntry, RegistrationStage } from '../spec/registry.js';
import { checkKindName } from './known-kinds.js';
import { entryLabel, snapshotEntry } from './snapshot-entry.js';

/**
 * A registration stage on any registry: its own `stage()` when it has one (all-or-nothing), or,
 * for a registry without stages, one that checks entries and name clashes when they are staged
 * and adds them one by one on commit.
 */
export function openStage(registry: AdapterRegistry, owner: string): RegistrationStage {
  if (typeof registry.stage === 'function') return registry.stage(owner);
  const kinds: string[] = [];
  const staged: { kind: string; entry: RegisteredEntry }[] = [];
  return {
    declareKind(kind) {
      checkKindName(kind);
      kinds.push(kind);
    },
    register(kind, entry) {
      const snapshot = snapshotEntry(kind, entry, owner);
      const taken = registry.list(kind).find((e) => e.name === snapshot.name) ?? staged.find((s) => s.kind === kind && s.entry.name === snapshot.name)?.entry;
      if (taken) {
        throw new InvalidOptionsError(`The ${kind} name "${entryLabel(snapshot.name)}" is already registered by ${taken.owner}; pick another name.`, { option: 'name' });
      }
      staged.push({ kind, entry: snapshot });
    },
    commit() {
      for (const kind of kinds) registry.declareKind?.(kind);
      for (const { kind, entry } of staged) registry.register(kind as never, entry as never, owner);
    },
  };
}
