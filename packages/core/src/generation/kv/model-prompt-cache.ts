import { InvalidOptionsError } from '../../errors/invalid-options-error.js';
import { PluginError } from '../../errors/plugin-error.js';
import type { InferenceSession } from '../../spec/backend.js';
import type { KvCacheStore } from '../../spec/kv-cache.js';
import type { PromptCache } from '../../spec/prompt-cache.js';
import { quoteValue } from '../../util/describe-cause.js';
import type { Owned, StoreSource } from '../resolve-components.js';
import { stageFailure } from '../stage-runner.js';
import { storeLength } from './store-calls.js';

/** What a cache holds between runs: a run's store, begun on `session`, holding `ids`. */
interface HeldCache {
  readonly store: Owned<KvCacheStore>;
  /** The store's registry entry, and its options as JSON when they were kept (undefined: none match). */
  readonly entry: StoreSource['entry'];
  readonly options: string | undefined;
  readonly session: InferenceSession;
  readonly ids: readonly number[];
}

/** The part of a held cache a run goes on from. */
export interface ReusedCache {
  readonly store: Owned<KvCacheStore>;
  /** Prompt tokens the store already holds (the run feeds the rest). */
  readonly length: number;
}

/**
 * A model's {@link PromptCache}. A run takes it (`take`), asks for the held store (`reuse`), and
 * gives it back (`keep` with the run's store, or `release`). Outside a run it holds at most one
 * store, which nothing else references.
 */
export class ModelPromptCache implements PromptCache {
  private held: HeldCache | undefined;
  private inUse = false;
  private disposed = false;
  /** Set by `clear()` during a run: what the run leaves is freed. */
  private clearedInRun = false;

  /**
   * `owner`: the model's generation context (a cache serves only the model that made it);
   * `onDispose`: called once, by the first `dispose()`.
   */
  constructor(
    readonly owner: object,
    private readonly onDispose: () => void = () => {},
  ) {}

  get ids(): readonly number[] {
    return this.held?.ids ?? NO_IDS;
  }

  get busy(): boolean {
    return this.inUse;
  }

  bytes(): number {
    const held = this.held;
    if (held === undefined) return 0;
    try {
      return held.store.value.bytes();
    } catch (cause) {
      throw stageFailure(held.store.owner, 'kv bytes', cause);
    }
  }

  clear(): void {
    if (this.inUse) this.clearedInRun = true;
    this.drop();
  }

  dispose(): void {
    if (!this.disposed) {
      this.disposed = true;
      this.onDispose();
    }
    this.clear();
  }

  /** Claims the cache for a run; refuses a disposed cache or one another run is using. */
  take(): void {
    if (this.disposed) {
      throw new InvalidOptionsError('This prompt cache was disposed (or its model was); make another with model.createPromptCache().', { option: 'promptCache' });
    }
    if (this.inUse) {
      throw new InvalidOptionsError(
        'This prompt cache is in use by another generation: one generation uses a cache at a time. Wait for that one to end, or give this request a cache of its own.',
        { option: 'promptCache' },
      );
    }
    this.inUse = true;
    this.clearedInRun = false;
  }

  /**
   * The held store, cut back to the longest prefix its ids share with `prompt` (leaving at least
   * one prompt token to feed), when it was made by `source` and begun on `session`; undefined
   * (and the held store freed) otherwise. Either way the cache holds nothing afterwards: the run
   * owns what it got. A `truncate` that fails drops the store and fails the run (a `PluginError`).
   */
  reuse(source: StoreSource, session: InferenceSession, prompt: readonly number[]): ReusedCache | undefined {
    const held = this.held;
    if (held === undefined) return undefined;
    this.held = undefined;
    if (held.session !== session || held.entry !== source.entry || held.options === undefined || held.options !== optionsKey(source.options)) {
      dropStore(held.store);
      return undefined;
    }
    let shared = commonPrefix(held.ids, prompt);
    // The run must feed at least one token: the logits of the last prompt token pick the first one.
    if (shared >= prompt.length) shared = prompt.length - 1;
    if (shared <= 0 || (shared < held.ids.length && held.store.value.truncate === undefined)) {
      dropStore(held.store);
      return undefined;
    }
    if (shared < held.ids.length) {
      try {
        truncateStore(held.store, shared);
      } catch (error) {
        dropStore(held.store);
        throw error;
      }
    }
    return { store: held.store, length: shared };
  }

  /**
   * Ends the run's use of the cache, keeping `store` (holding `ids`, begun on `session`) for the
   * next run unless the cache was cleared or disposed meanwhile. Returns whether it was kept (the
   * run then must not dispose it).
   */
  keep(store: Owned<KvCacheStore>, source: StoreSource, session: InferenceSession, ids: readonly number[]): boolean {
    this.inUse = false;
    if (this.disposed || this.clearedInRun) return false;
    this.drop();
    this.held = { store, entry: source.entry, options: optionsKey(source.options), session, ids: Object.freeze(ids.slice()) };
    return true;
  }

  /** Ends the run's use of the cache without keeping anything. */
  release(): void {
    this.inUse = false;
  }

  private drop(): void {
    const held = this.held;
    this.held = undefined;
    if (held !== undefined) dropStore(held.store);
  }
}

/** The cache a request passed, checked to be one `model` made. */
export function requestPromptCache(value: unknown, model: object): ModelPromptCache {
  if (!(value instanceof ModelPromptCache)) {
    throw new InvalidOptionsError(`promptCache must be a cache made by model.createPromptCache() (got ${quoteValue(value)}).`, { option: 'promptCache' });
  }
  if (value.owner !== model) {
    throw new InvalidOptionsError('This prompt cache was made by another model: a cache serves only the model whose createPromptCache() made it.', { option: 'promptCache' });
  }
  return value;
}

/** Cuts a store back to its first `length` positions, naming its plugin when that fails or `length` comes out wrong. */
function truncateStore(kv: Owned<KvCacheStore>, length: number): void {
  try {
    kv.value.truncate!(length);
  } catch (cause) {
    throw stageFailure(kv.owner, 'kv truncate', cause);
  }
  const after = storeLength(kv);
  if (after !== length) {
    throw new PluginError(kv.owner, 'kv truncate', `the KV store "${kv.name}" has length ${after} after truncate(${length}); it must hold exactly the first ${length} positions.`);
  }
}

/** Frees a store the cache no longer keeps. A store whose dispose throws is dropped all the same: it is not the run's to fail over. */
function dropStore(kv: Owned<KvCacheStore>): void {
  try {
    kv.value.dispose();
  } catch {
    // Nothing the run or the caller can do about it; the store is unreachable from here on.
  }
}

/**
 * A store's options as text, to tell whether a later run asks for the same store (read when the
 * cache keeps a store, so that options changed in place afterwards are seen); undefined when they
 * cannot be written as JSON, which no later run then matches.
 */
function optionsKey(options: StoreSource['options']): string | undefined {
  if (options === undefined) return '';
  try {
    return JSON.stringify(options) ?? undefined;
  } catch {
    return undefined;
  }
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

const NO_IDS: readonly number[] = Object.freeze([]);
