import type { BackendTensor } from '../../spec/backend.js';
import type { KvCacheInit, KvCacheStore } from '../../spec/kv-cache.js';
import type { Owned } from '../resolve-components.js';
import { stageFailure, synchronousResult } from '../stage-runner.js';
import type { StorePool } from './store-pool.js';

// A run's calls into its KV store (`retain` goes through runStage with the router), naming the
// plugin at fault as runStage does. Plain try/catch and no closure per call: these run every step
// (or once per request, on the path to the first token) and allocate nothing of their own.

/** Starts the store's cache for a run. */
export function storeBegin(kv: Owned<KvCacheStore>, init: KvCacheInit): void {
  try {
    synchronousResult(kv.owner, 'kv begin', kv.value.begin(init));
  } catch (cause) {
    throw stageFailure(kv.owner, 'kv begin', cause);
  }
}

/** The store's `past_key_values.*` feeds for the next step. */
export function storeMaterialize(kv: Owned<KvCacheStore>): Readonly<Record<string, BackendTensor>> {
  try {
    return synchronousResult(kv.owner, 'kv materialize', kv.value.materialize());
  } catch (cause) {
    throw stageFailure(kv.owner, 'kv materialize', cause);
  }
}

/** Hands a step's `present.*` tensors to the store. */
export function storeAppend(kv: Owned<KvCacheStore>, presents: Readonly<Record<string, BackendTensor>>): void {
  try {
    synchronousResult(kv.owner, 'kv append', kv.value.append(presents));
  } catch (cause) {
    throw stageFailure(kv.owner, 'kv append', cause);
  }
}

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
 * succeeded; when the run is already failing, that first error is the one reported. When the run
 * succeeded and the store came from a pool, it goes back there.
 */
export function disposeStore(kv: Owned<KvCacheStore>, runFailed: boolean, pool?: StorePool): void {
  try {
    kv.value.dispose();
  } catch (cause) {
    if (!runFailed) throw stageFailure(kv.owner, 'kv dispose', cause);
    return;
  }
  if (!runFailed) pool?.give(kv);
}
