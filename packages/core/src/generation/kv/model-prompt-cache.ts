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
export interface HeldCache {
  readonly store: Owned<KvCacheStore>;
  /** The store's registry entry, and its options as JSON when they were kept (undefined: none match). */
  readonly entry: StoreSource['entry'];
  readonly options: string | undefined;
  readonly session: InferenceSession;
  /** Whether the store was begun with a float32 layout for a float16 graph. */
  readonly bridged: boolean;
  readonly ids: readonly number[];
  /** Whether a router evicted some of `ids`' positions: the store is then only ever extended, by the same router. */
  readonly evicted: boolean;
  /** The router that chose what the store holds (see `routerKey`). */
  readonly router: unknown;
}

/** Where a cache keeps what it holds (see `ModelPromptCache.slot`). */
export interface HeldSlot {
  held: HeldCache | undefined;
}

/** Frees what a dropped cache held, once the cache itself is garbage-collected. */
export function freeHeld(slot: HeldSlot): void {
  const held = slot.held;
  slot.held = undefined;
  if (held !== undefined) dropStore(held.store);
}

/** The run using a cache. */
interface CacheUser {
  readonly stopped: () => boolean;
  /** Resolves when the run lets go of the cache (`keep` or `release`). */
  readonly released: Promise<void>;
  readonly letGo: () => void;
}

/** The part of a held cache a run goes on from. */
export interface ReusedCache {
  readonly store: Owned<KvCacheStore>;
  /** Prompt tokens the store already holds, or held before a router evicted some (the run feeds the rest). */
  readonly length: number;
}

/**
 * A model's {@link PromptCache}. A run takes it (`take`), asks for the held store (`reuse`), and
 * gives it back (`keep` with the run's store, or `release`). Outside a run it holds at most one
 * store, which nothing else references.
 */
export class ModelPromptCache implements PromptCache {
  /**
   * What the cache holds, in an object of its own that references nothing of the cache: what frees
   * a dropped cache's store once the cache is collected gets this, not the cache (see `heldBy`).
   */
  readonly slot: HeldSlot = { held: undefined };
  private inUse = false;
  /** The run using the cache: whether it is stopping (aborted, unsubscribed), and when it lets go. */
  private user: CacheUser | undefined;
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

  private get held(): HeldCache | undefined {
    return this.slot.held;
  }

  private set held(held: HeldCache | undefined) {
    this.slot.held = held;
  }

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

  /**
   * Claims the cache for a run whose stopping `stopped` tells; refuses a disposed cache, or one
   * another live run is using. When the run using it is stopping (its stream has ended, but a
   * forward pass it sent has not settled, and until then its store may still be read), returns a
   * promise that resolves once it lets go: wait for it, then take again.
   */
  take(stopped: () => boolean): Promise<void> | undefined {
    if (this.disposed) {
      throw new InvalidOptionsError('This prompt cache was disposed (or its model was); make another with model.createPromptCache().', { option: 'promptCache' });
    }
    if (this.inUse) {
      if (this.user?.stopped() === true) return this.user.released;
      throw new InvalidOptionsError(
        'This prompt cache is in use by another generation: one generation uses a cache at a time. Wait for that one to end, or give this request a cache of its own.',
        { option: 'promptCache' },
      );
    }
    this.inUse = true;
    this.clearedInRun = false;
    let letGo = (): void => {};
    const released = new Promise<void>((resolve) => (letGo = resolve));
    this.user = { stopped, released, letGo };
    return undefined;
  }

  /**
   * The held store, cut back to the longest prefix its ids share with `prompt` (leaving at least
   * one prompt token to feed), when it was made by `source` and begun on `session`; undefined
   * (and the held store freed) otherwise. Either way the cache holds nothing afterwards: the run
   * owns what it got. A `truncate` that fails drops the store and fails the run (a `PluginError`).
   */
  reuse(source: StoreSource, session: InferenceSession, bridged: boolean, router: unknown, prompt: readonly number[]): ReusedCache | undefined {
    const held = this.held;
    if (held === undefined) return undefined;
    this.held = undefined;
    if (
      held.session !== session || held.bridged !== bridged || held.entry !== source.entry ||
      held.options === undefined || held.options !== optionsKey(source.options)
    ) {
      dropStore(held.store);
      return undefined;
    }
    let shared = commonPrefix(held.ids, prompt);
    // The run must feed at least one token: the logits of the last prompt token pick the first one.
    if (shared >= prompt.length) shared = prompt.length - 1;
    try {
      // A routed cache that evicted positions is no prefix of the ids: it can only be extended, and
      // only under the router that chose its slots (another would attend to slots it never kept).
      if (held.evicted && (shared < held.ids.length || held.router !== router)) shared = 0;
      else if (shared > 0 && shared < held.ids.length && !truncateStore(held.store, shared)) shared = 0;
    } catch (error) {
      dropStore(held.store);
      throw error;
    }
    if (shared <= 0) {
      dropStore(held.store);
      return undefined;
    }
    return { store: held.store, length: shared };
  }

  /**
   * Ends the run's use of the cache, keeping `store` (holding `ids`, begun on `session`) for the
   * next run unless the cache was cleared or disposed meanwhile. Returns whether it was kept (the
   * run then must not dispose it).
   */
  keep(store: Owned<KvCacheStore>, source: StoreSource, session: InferenceSession, bridged: boolean, ids: readonly number[], evicted: boolean, router: unknown): boolean {
    if (this.disposed || this.clearedInRun) {
      this.release();
      return false;
    }
    this.drop();
    this.held = { store, entry: source.entry, options: optionsKey(source.options), session, bridged, ids: Object.freeze(ids.slice()), evicted, router };
    this.release();
    return true;
  }

  /** Ends the run's use of the cache without keeping anything (idempotent). */
  release(): void {
    this.inUse = false;
    const user = this.user;
    this.user = undefined;
    user?.letGo();
  }

  private drop(): void {
    const held = this.held;
    this.held = undefined;
    if (held !== undefined) dropStore(held.store);
  }
}

/**
 * What tells one run's router from another's for a cache it evicted from: undefined without one;
 * an instance the request passed, itself; else its name with the request's reference as JSON (the
 * runtime's default router has no reference). A reference that cannot be written as JSON gets a
 * key of its own, which no later run matches.
 */
export function routerKey(router: { readonly owner: string; readonly value: object; readonly name: string } | undefined, reference: unknown): unknown {
  if (router === undefined) return undefined;
  if (router.owner === 'request') return router.value;
  try {
    return `${router.name}|${JSON.stringify(reference ?? null)}`;
  } catch {
    return {};
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

/**
 * Cuts a store back to its first `length` positions; false when it has no `truncate` right now (a
 * store may offer it in some states only). Reading the method, calling it, or a length that comes
 * out wrong fails with an error naming the store's plugin.
 */
function truncateStore(kv: Owned<KvCacheStore>, length: number): boolean {
  try {
    const truncate = kv.value.truncate;
    if (truncate === undefined || truncate === null) return false;
    if (typeof truncate !== 'function') throw new TypeError(`truncate is ${quoteValue(truncate)}, not a method`);
    truncate.call(kv.value, length);
  } catch (cause) {
    throw stageFailure(kv.owner, 'kv truncate', cause);
  }
  const after = storeLength(kv);
  if (after !== length) {
    throw new PluginError(kv.owner, 'kv truncate', `the KV store "${kv.name}" has length ${after} after truncate(${length}); it must hold exactly the first ${length} positions.`);
  }
  return true;
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
