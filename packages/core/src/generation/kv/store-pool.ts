import type { KvCacheStore } from '../../spec/kv-cache.js';
import type { Owned } from '../resolve-components.js';

/** Idle instances a pool keeps at most; more runs at once make new ones, which are then dropped. */
const MAX_IDLE = 4;

/**
 * Instances of a `reusable` store entry between runs. A run that names no store takes one (or the
 * entry makes one), has it to itself, and gives it back when it ends without error; the next run's
 * `begin` resets it. Saves making, checking and wrapping a store on the path to the first token.
 */
export class StorePool {
  private readonly idle: Owned<KvCacheStore>[] = [];

  /** An idle instance, or undefined when none is left. */
  take(): Owned<KvCacheStore> | undefined {
    return this.idle.pop();
  }

  /** Keeps a disposed instance for a later run (up to {@link MAX_IDLE}). */
  give(store: Owned<KvCacheStore>): void {
    if (this.idle.length < MAX_IDLE) this.idle.push(store);
  }
}
