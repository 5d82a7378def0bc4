import { InvalidOptionsError } from '../../errors/invalid-options-error.js';
import { HALTED, type RunWaiter } from '../../backend/run-waiter.js';
import type { InferenceSession } from '../../spec/backend.js';
import type { KvCacheStore } from '../../spec/kv-cache.js';
import type { CheckedRouter, Owned, StoreSource } from '../resolve-components.js';
import { requestPromptCache, routerKey, type ModelPromptCache, type ReusedCache } from './model-prompt-cache.js';
import { storeLength } from './store-calls.js';

/**
 * One generation's use of the request's prompt cache: checked when the run reads its request,
 * claimed once its components are resolved, asked for the held store when the run's store would
 * begin, and settled when the run ends (the run's store kept, or the cache let go).
 */
export class RunPromptCache {
  /** Set once the run has claimed the cache. */
  private cache: ModelPromptCache | undefined;
  /** The session the run's store was last begun on (or the reused store was), once it was. */
  private begunOn: InferenceSession | undefined;
  /** Whether the store was begun with a float32 layout for a float16 graph (a cache is reused only alike). */
  private bridged = false;

  private constructor(
    private readonly requested: ModelPromptCache,
    /** The request's `router` field, as the run read it (see `routerKey`). */
    private readonly routerReference: unknown,
  ) {}

  /** The request's cache for `model`, checked; undefined without one. */
  static of(value: unknown, model: object, prompts: number, routerReference: unknown): RunPromptCache | undefined {
    if (value === undefined) return undefined;
    const cache = requestPromptCache(value, model);
    if (prompts > 1) {
      throw new InvalidOptionsError(`A prompt cache holds one conversation, and the request has ${prompts} prompts: send the prompt that continues the cached one in a request of its own.`, {
        option: 'promptCache',
      });
    }
    return new RunPromptCache(cache, routerReference);
  }

  /**
   * Claims the cache for the run with `router` and a store by name or not, after checking they can
   * use one. A run that is stopping (its stream ended while a pass it sent is pending) holds the
   * cache until that pass settles: this waits for it, unless the run's own `waiter` halts first
   * (the run then goes on without the cache, and ends at its first check).
   */
  async claim(router: CheckedRouter | undefined, storeByName: boolean, waiter: RunWaiter, cancelled: () => boolean): Promise<void> {
    checkCacheUse(router, storeByName);
    const stopping = (): boolean => waiter.stopped || cancelled();
    for (let letGo = this.requested.take(stopping); ; letGo = this.requested.take(stopping)) {
      if (letGo === undefined) {
        this.cache = this.requested;
        return;
      }
      try {
        await waiter.until(letGo);
      } catch (stopped) {
        if (stopped !== HALTED) throw stopped;
        return;
      }
    }
  }

  /**
   * The held store for a run on `session` with `source`'s store and `router`, cut back to what
   * `prompt` shares with it (see `ModelPromptCache.reuse`); undefined when the run must begin its
   * own. Records the session and layout either way: call it where the run's store would begin.
   */
  reuse(source: StoreSource, session: InferenceSession, bridged: boolean, router: CheckedRouter | undefined, prompt: readonly number[]): ReusedCache | undefined {
    this.begun(session, bridged);
    return this.cache?.reuse(source, session, bridged, routerKey(router, this.routerReference), prompt);
  }

  /** The run's store was begun (again, after a failover) on `session`. */
  begun(session: InferenceSession, bridged: boolean): void {
    this.begunOn = session;
    this.bridged = bridged;
  }

  /**
   * Ends the run's use of the cache. When the run ended cleanly (`clean`: no error, no pass that
   * may still read the store), the cache keeps `kv` with the first `fed` of `fedIds` (aborted and
   * unsubscribed runs included: their store holds exactly the ids fed). Returns whether it kept
   * it: the run must then not dispose it.
   */
  settle(clean: boolean, kv: Owned<KvCacheStore>, source: StoreSource | undefined, router: CheckedRouter | undefined, fedIds: readonly number[], fed: number): boolean {
    const cache = this.cache;
    if (cache === undefined) return false;
    const length = clean && this.begunOn !== undefined && source !== undefined ? heldLength(kv, fed) : 0;
    const kept =
      length > 0 && cache.keep(kv, source!, this.begunOn!, this.bridged, fedIds.slice(0, fed), length < fed, routerKey(router, this.routerReference));
    if (!kept) cache.release();
    return kept;
  }
}

/**
 * Refuses a prompt cache in a run whose attention router cannot take over a cache an earlier run
 * routed (see `AttentionRouter.resumesCache`), or with a store instance the request passed.
 */
function checkCacheUse(router: CheckedRouter | undefined, storeByName: boolean): void {
  if (router !== undefined && (!router.resumesCache || router.positions !== 'absolute')) {
    const why = router.positions !== 'absolute' ? "it counts positions within the cache (positions: 'cache')" : 'it keeps state between steps (no resumesCache)';
    throw new InvalidOptionsError(
      `promptCache cannot be combined with the attention router "${router.name}": ${why}, which does not carry over between requests. ` +
        `Use a router that resumes a cache (full, window, sink-window or strided, positions 'absolute'), or leave out promptCache.`,
      { option: 'promptCache' },
    );
  }
  if (!storeByName) {
    throw new InvalidOptionsError('promptCache needs the KV store by name (kv: "int4" or { name, options }), not an instance: the cache keeps the store between requests.', {
      option: 'promptCache',
    });
  }
}

/**
 * The store's length when it holds the `fed` positions the run fed, or a router's choice of them;
 * 0 otherwise, or when the store cannot say.
 */
function heldLength(kv: Owned<KvCacheStore>, fed: number): number {
  try {
    const length = storeLength(kv);
    return fed > 0 && length <= fed ? length : 0;
  } catch {
    return 0;
  }
}
