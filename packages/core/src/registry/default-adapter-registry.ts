import { AdapterResolutionError } from '../errors/adapter-resolution-error.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import type {
  AdapterEntry,
  AdapterKind,
  AdapterKinds,
  AdapterRegistry,
  Rejection,
  RegisteredEntry,
  ResolveQuery,
} from '../spec/registry.js';

/** Map-backed registry, one per runtime. Use through the {@link AdapterRegistry} interface. */
export class DefaultAdapterRegistry implements AdapterRegistry {
  private readonly kinds = new Map<string, RegisteredEntry[]>();
  private added = 0;

  /** Number of entries registered so far. */
  get revision(): number {
    return this.added;
  }

  register<K extends AdapterKind>(kind: K, entry: AdapterEntry<AdapterKinds[K]>, owner = 'host'): void {
    if (typeof entry !== 'object' || entry === null || typeof entry.name !== 'string' || entry.name === '') {
      throw new InvalidOptionsError(`A ${kind} entry needs a non-empty string "name".`, { option: 'name' });
    }
    if (typeof entry.create !== 'function') {
      throw new InvalidOptionsError(`The ${kind} entry "${entry.name}" needs a create() function.`, { option: 'create' });
    }
    if (entry.priority !== undefined && !Number.isFinite(entry.priority)) {
      throw new InvalidOptionsError(`The ${kind} entry "${entry.name}" has a non-numeric priority.`, { option: 'priority' });
    }
    const list = this.kinds.get(kind) ?? [];
    const existing = list.find((e) => e.name === entry.name);
    if (existing) {
      throw new InvalidOptionsError(
        `The ${kind} name "${entry.name}" is already registered by ${existing.owner}; pick another name.`,
        { option: 'name' },
      );
    }
    list.push({ ...entry, owner } as RegisteredEntry);
    list.sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0));
    this.kinds.set(kind, list);
    this.added++;
  }

  list<K extends AdapterKind>(kind: K): readonly RegisteredEntry<AdapterKinds[K]>[] {
    return (this.kinds.get(kind) ?? []) as RegisteredEntry<AdapterKinds[K]>[];
  }

  resolve<K extends AdapterKind>(kind: K, query: ResolveQuery = {}): RegisteredEntry<AdapterKinds[K]> {
    const rejections: Rejection[] = [];
    for (const entry of this.list(kind)) {
      const reason = rejectionReason(entry, query);
      if (reason === undefined) return entry;
      rejections.push({ name: entry.name, reason });
    }
    const wanted = query.name ? `"${query.name}"` : 'the request';
    throw new AdapterResolutionError(kind, wanted, rejections);
  }
}

function rejectionReason(entry: RegisteredEntry, query: ResolveQuery): string | undefined {
  if (query.name !== undefined && entry.name !== query.name) return 'different name';
  const missing = (query.require ?? []).filter((c) => !(entry.capabilities ?? []).includes(c));
  if (missing.length > 0) return `lacks capabilities ${missing.join(', ')}`;
  const verdict = query.accept?.(entry) ?? true;
  return verdict === true ? undefined : verdict;
}
