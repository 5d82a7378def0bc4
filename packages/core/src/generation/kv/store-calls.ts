import type { KvCacheStore } from '../../spec/kv-cache.js';
import type { Owned } from '../resolve-components.js';
import { stageFailure } from '../stage-runner.js';

// Calls into a KV store outside its begin / materialize / append / retain stages (which go
// through runStage), with the same naming of the plugin at fault. Plain try/catch: these run every
// step and allocate nothing.

/** The store's cached positions. */
export function storeLength(kv: Owned<KvCacheStore>): number {
  try {
    return kv.value.length;
  } catch (cause) {
    throw stageFailure(kv.owner, 'kv length', cause);
  }
}

/** The store's cache size in bytes. */
export function storeBytes(kv: Owned<KvCacheStore>): number {
  try {
    return kv.value.bytes();
  } catch (cause) {
    throw stageFailure(kv.owner, 'kv bytes', cause);
  }
}

/** Slot positions of a store, per KV head (identity when it does not track them). */
export function slotPositions(store: KvCacheStore, heads: number): readonly (readonly number[])[] {
  const tracked = store.slotPositions?.();
  if (tracked) return tracked;
  const identity = Array.from({ length: store.length }, (_, i) => i);
  return Array.from({ length: heads }, () => identity);
}

/** {@link slotPositions} of a run's store, naming its plugin when that fails. */
export function storeSlotPositions(kv: Owned<KvCacheStore>, heads: number): readonly (readonly number[])[] {
  try {
    return slotPositions(kv.value, heads);
  } catch (cause) {
    throw stageFailure(kv.owner, 'kv slotPositions', cause);
  }
}

/**
 * Disposes the store at the end of a run. A failure is the run's error when the run itself
 * succeeded; when the run is already failing, that first error is the one reported.
 */
export function disposeStore(kv: Owned<KvCacheStore>, runFailed: boolean): void {
  try {
    kv.value.dispose();
  } catch (cause) {
    if (!runFailed) throw stageFailure(kv.owner, 'kv dispose', cause);
  }
}
