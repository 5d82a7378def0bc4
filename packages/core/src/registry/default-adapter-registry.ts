import { AdapterResolutionError } from '../errors/adapter-resolution-error.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import type {
  AdapterEntry,
  AdapterKind,
  AdapterKinds,
  AdapterRegistry,
  RegisteredEntry,
  RegistrationStage,
  Rejection,
  ResolveQuery,
} from '../spec/registry.js';
import { describeCause, quoteValue, truncateText } from '../util/describe-cause.js';
import { BUILT_IN_KINDS, checkKindName, checkKnownKind } from './known-kinds.js';
import { readQuery, type QuerySnapshot } from './read-query.js';
import { entryLabel, snapshotEntry } from './snapshot-entry.js';

const NONE: readonly RegisteredEntry[] = Object.freeze([]);
const NO_CAPABILITIES: readonly string[] = Object.freeze([]);

/**
 * Map-backed registry, one per runtime. Use through the {@link AdapterRegistry} interface.
 * Entries are stored as frozen copies and `list` returns frozen arrays, so nothing handed out
 * can change what the registry holds.
 */
export class DefaultAdapterRegistry implements AdapterRegistry {
  /** Per kind, a frozen array sorted by priority; replaced (never mutated) on every change. */
  private readonly entriesByKind = new Map<string, readonly RegisteredEntry[]>();
  private readonly known = new Set<string>(BUILT_IN_KINDS);
  private added = 0;

  /** Number of entries registered so far. */
  get revision(): number {
    return this.added;
  }

  declareKind(kind: string): void {
    checkKindName(kind);
    this.known.add(kind);
  }

  kinds(): readonly string[] {
    return Object.freeze([...this.known]);
  }

  register<K extends AdapterKind>(kind: K, entry: AdapterEntry<AdapterKinds[K]>, owner = 'host'): void {
    const stage = this.stage(owner);
    stage.register(kind, entry);
    stage.commit();
  }

  stage(owner: string): RegistrationStage {
    if (typeof owner !== 'string' || owner === '') {
      throw new InvalidOptionsError(`A registration owner must be a non-empty string (got ${quoteValue(owner)}).`, { option: 'owner' });
    }
    const kinds = new Set<string>();
    const staged: { kind: string; entry: RegisteredEntry }[] = [];
    let committed = false;
    return {
      declareKind: (kind) => {
        checkKindName(kind);
        kinds.add(kind);
      },
      register: (kind, entry) => {
        if (committed) throw new InvalidOptionsError('This registration stage was already committed.', { option: 'stage' });
        if (!kinds.has(kind as string)) checkKnownKind(kind, this.known);
        const snapshot = snapshotEntry(kind, entry, owner);
        this.checkFree(kind, snapshot.name, staged);
        staged.push({ kind, entry: snapshot });
      },
      commit: () => {
        if (committed) throw new InvalidOptionsError('This registration stage was already committed.', { option: 'stage' });
        // Check everything again (another owner may have registered meanwhile), then change state
        // in one synchronous pass, so the batch is added whole or not at all.
        for (const [i, { kind, entry }] of staged.entries()) {
          if (!kinds.has(kind)) checkKnownKind(kind, this.known);
          this.checkFree(kind, entry.name, staged.slice(0, i));
        }
        committed = true;
        for (const kind of kinds) this.known.add(kind);
        for (const { kind, entry } of staged) this.insert(kind, entry);
      },
    };
  }

  list<K extends AdapterKind>(kind: K): readonly RegisteredEntry<AdapterKinds[K]>[] {
    return (this.entriesByKind.get(kind) ?? NONE) as readonly RegisteredEntry<AdapterKinds[K]>[];
  }

  resolve<K extends AdapterKind>(kind: K, query?: ResolveQuery): RegisteredEntry<AdapterKinds[K]> {
    const q = readQuery(query);
    const rejections: Rejection[] = [];
    for (const entry of this.list(kind)) {
      const reason = rejectionReason(entry, q);
      if (reason === undefined) return entry;
      rejections.push(Object.freeze({ name: entry.name, reason }));
    }
    // Nothing registered under a kind nobody declared is most likely a typo: say so.
    if (rejections.length === 0) checkKnownKind(kind, this.known);
    const wanted = q.name === undefined ? 'the request' : quoteValue(q.name);
    throw new AdapterResolutionError(typeof kind === 'string' ? truncateText(kind, 100) : quoteValue(kind), wanted, rejections);
  }

  /** Throws when `name` is taken in the registry or among `pending` entries of the same kind. */
  private checkFree(kind: string, name: string, pending: readonly { kind: string; entry: RegisteredEntry }[]): void {
    const existing = this.list(kind as AdapterKind).find((e) => e.name === name) ?? pending.find((p) => p.kind === kind && p.entry.name === name)?.entry;
    if (existing) {
      throw new InvalidOptionsError(
        `The ${kind} name "${entryLabel(name)}" is already registered by ${existing.owner}; pick another name.`,
        { option: 'name' },
      );
    }
  }

  private insert(kind: string, entry: RegisteredEntry): void {
    const next = [...(this.entriesByKind.get(kind) ?? NONE), entry];
    next.sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0));
    this.entriesByKind.set(kind, Object.freeze(next));
    this.added++;
  }
}

function rejectionReason(entry: RegisteredEntry, query: QuerySnapshot): string | undefined {
  if (query.name !== undefined && entry.name !== query.name) return 'different name';
  const missing = query.require.filter((c) => !(entry.capabilities ?? NO_CAPABILITIES).includes(c));
  if (missing.length > 0) return `lacks capabilities ${truncateText(missing.join(', '), 200)}`;
  if (query.accept === undefined) return undefined;
  let verdict: unknown;
  try {
    verdict = query.accept(entry);
  } catch (cause) {
    return `accept() threw: ${describeCause(cause)}`;
  }
  if (verdict === true || verdict === undefined) return undefined;
  return typeof verdict === 'string' ? truncateText(verdict, 200) : `rejected by accept() (${quoteValue(verdict)})`;
}
