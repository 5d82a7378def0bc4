import type { BackendTensor } from '../../spec/backend.js';
import { PluginError } from '../../errors/plugin-error.js';
import type { KvCacheInit, KvCacheStore, KvLayout } from '../../spec/kv-cache.js';
import type { Owned } from '../resolve-components.js';
import { stageFailure, synchronousResult } from '../stage-runner.js';
import { quoteValue } from '../../util/describe-cause.js';
import type { StorePool } from './store-pool.js';

// A run's calls into its KV store (`retain` goes through runStage with the router), naming the
// plugin at fault as runStage does. Plain try/catch and no closure per call: these run every step
// (or once per request, on the path to the first token) and allocate nothing of their own per step.
// What a store returns is checked where the loop would otherwise fail obscurely or blame the
// backend: materialize's feeds (one lookup a step) and length (an integer check).

/** Starts the store's cache for a run; its next `materialize` result is checked in full. */
export function storeBegin(kv: Owned<KvCacheStore>, init: KvCacheInit): void {
  try {
    synchronousResult(kv.owner, 'kv begin', kv.value.begin(init));
  } catch (cause) {
    throw stageFailure(kv.owner, 'kv begin', cause);
  }
  const first = init.layout.pastKeyNames[0];
  const check = pastChecks.get(kv);
  if (first === undefined) pastChecks.delete(kv);
  else if (check === undefined) pastChecks.set(kv, { layout: init.layout, first, full: true });
  else {
    check.layout = init.layout;
    check.first = first;
    check.full = true;
  }
}

/**
 * The store's `past_key_values.*` feeds for the next step. The first result after `begin` must hold
 * a tensor for every past input; later ones, for the first (one lookup a step). A store that fails
 * this is named here, rather than the backend that would reject the feeds.
 */
export function storeMaterialize(kv: Owned<KvCacheStore>): Readonly<Record<string, BackendTensor>> {
  try {
    const feeds = synchronousResult(kv.owner, 'kv materialize', kv.value.materialize());
    const check = pastChecks.get(kv);
    if (check !== undefined && (check.full || !isTensor((feeds as Partial<typeof feeds> | null)?.[check.first]))) checkPast(kv, feeds, check);
    return feeds;
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

/** The store's cached positions, checked to be a count. */
export function storeLength(kv: Owned<KvCacheStore>): number {
  let length: number;
  try {
    length = kv.value.length;
  } catch (cause) {
    throw stageFailure(kv.owner, 'kv length', cause);
  }
  if (Number.isInteger(length) && length >= 0) return length;
  throw new PluginError(kv.owner, 'kv length', `${storeLabel(kv)} has ${length === undefined ? 'no length' : `length ${quoteValue(length)}`}; it must be the number of cached positions, an integer ≥ 0.`);
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

/**
 * {@link slotPositions} of a run's store, naming its plugin when that fails, checked to hold one
 * list per key/value head, each as long as the store's `length` (O(heads): the lists' contents
 * are the store's business). Without this check, a store whose lists disagree with its length made
 * an attention mask of the wrong size, and the backend was blamed for the run that failed.
 */
export function storeSlotPositions(kv: Owned<KvCacheStore>, heads: number): readonly (readonly number[])[] {
  let positions: readonly (readonly number[])[];
  try {
    positions = slotPositions(kv.value, heads);
  } catch (cause) {
    throw stageFailure(kv.owner, 'kv slotPositions', cause);
  }
  const length = storeLength(kv);
  if (!Array.isArray(positions) || positions.length !== heads) {
    throw badSlotPositions(kv, `returned ${quoteValue(positions)}${Array.isArray(positions) ? ` of ${positions.length} lists` : ''}`, heads, length);
  }
  for (let h = 0; h < heads; h++) {
    const list: unknown = positions[h];
    // A typed array of positions reads as well as a plain one.
    const listed = Array.isArray(list) || (ArrayBuffer.isView(list) && !(list instanceof DataView));
    if (!listed || (list as ArrayLike<number>).length !== length) {
      throw badSlotPositions(kv, `returned ${listed ? `${(list as ArrayLike<number>).length} positions` : quoteValue(list)} for head ${h}`, heads, length);
    }
  }
  return positions;
}

function badSlotPositions(kv: Owned<KvCacheStore>, what: string, heads: number, length: number): PluginError {
  return new PluginError(
    kv.owner,
    'kv slotPositions',
    `${storeLabel(kv)} ${what} from slotPositions(); it must return one list per key/value head (${heads}), each holding the absolute position of every cached slot (its length is ${length}).`,
  );
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

/** Per store of a run: the past inputs its `materialize` must feed (the first checked every step), and whether the next result is checked in full. */
interface PastCheck {
  layout: KvLayout;
  first: string;
  full: boolean;
}

const pastChecks = new WeakMap<Owned<KvCacheStore>, PastCheck>();

/** Throws a `PluginError` unless `feeds` holds a tensor for every past input; then the next result gets the per-step check. */
function checkPast(kv: Owned<KvCacheStore>, feeds: unknown, check: PastCheck): void {
  const layout = check.layout;
  const expected = `it must return an object holding a tensor for each past input (${layout.pastKeyNames[0]}, ${layout.pastValueNames[0]}, …, one key and one value per layer)`;
  if (typeof feeds !== 'object' || feeds === null) {
    throw new PluginError(kv.owner, 'kv materialize', `${storeLabel(kv)} returned ${quoteValue(feeds)} from materialize(); ${expected}.`);
  }
  for (const names of [layout.pastKeyNames, layout.pastValueNames]) {
    for (const name of names) {
      const tensor: unknown = (feeds as Record<string, unknown>)[name];
      if (!isTensor(tensor)) {
        const got = tensor === undefined ? 'no tensor' : quoteValue(tensor);
        throw new PluginError(kv.owner, 'kv materialize', `${storeLabel(kv)} returned ${got} for "${name}" from materialize(); ${expected}.`);
      }
    }
  }
  check.full = false;
}

/** Whether a feed looks like a tensor (the backend checks the rest). */
function isTensor(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Array.isArray((value as { dims?: unknown }).dims);
}

/** `the KV store "name"` for messages. */
function storeLabel(kv: Owned<KvCacheStore>): string {
  return `the KV store "${kv.name}"`;
}
