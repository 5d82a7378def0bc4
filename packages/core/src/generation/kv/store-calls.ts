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
// backend: materialize's feeds (each past tensor's dims, a step) and length (an integer check).

/** Starts the store's cache for a run; its next `materialize` result is checked in full. */
export function storeBegin(kv: Owned<KvCacheStore>, init: KvCacheInit): void {
  try {
    synchronousResult(kv.owner, 'kv begin', kv.value.begin(init));
  } catch (cause) {
    throw stageFailure(kv.owner, 'kv begin', cause);
  }
  if (init.layout.pastKeyNames.length === 0) pastChecks.delete(kv);
  else {
    const names = [...init.layout.pastKeyNames, ...init.layout.pastValueNames];
    pastChecks.set(kv, { layout: init.layout, names, batchSize: init.batchSize, full: true });
  }
}

/**
 * The store's `past_key_values.*` feeds for the next step, `pastLength` (the store's `length`)
 * positions of them: a tensor of dims `[batch, kv heads, pastLength, head dim]` for every past
 * input (the first result after `begin` is also checked to be an object). A store that fails
 * this is named here, rather than the backend that would reject the feeds (counting the failure
 * against its circuit breaker and failing over) or, where the graph broadcasts, run them silently.
 */
export function storeMaterialize(kv: Owned<KvCacheStore>, pastLength: number): Readonly<Record<string, BackendTensor>> {
  try {
    const feeds = synchronousResult(kv.owner, 'kv materialize', kv.value.materialize());
    const check = pastChecks.get(kv);
    if (check !== undefined) {
      if (check.full) checkPast(kv, feeds, check);
      checkPastDims(kv, feeds, check, pastLength);
    }
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

/** Per store of a run: the past inputs its `materialize` must feed, and whether the next result is checked in full. */
interface PastCheck {
  readonly layout: KvLayout;
  /** Every past input: keys, then values. */
  readonly names: readonly string[];
  readonly batchSize: number;
  full: boolean;
}

const pastChecks = new WeakMap<Owned<KvCacheStore>, PastCheck>();

/** Throws a `PluginError` unless `feeds` is an object holding a tensor for every past input. */
function checkPast(kv: Owned<KvCacheStore>, feeds: unknown, check: PastCheck): void {
  const layout = check.layout;
  const expected = `it must return an object holding a tensor for each past input (${layout.pastKeyNames[0]}, ${layout.pastValueNames[0]}, …, one key and one value per layer)`;
  if (typeof feeds !== 'object' || feeds === null) {
    throw new PluginError(kv.owner, 'kv materialize', `${storeLabel(kv)} returned ${quoteValue(feeds)} from materialize(); ${expected}.`);
  }
  for (const name of check.names) {
    const tensor: unknown = (feeds as Record<string, unknown>)[name];
    if (!isTensor(tensor)) {
      const got = tensor === undefined ? 'no tensor' : quoteValue(tensor);
      throw new PluginError(kv.owner, 'kv materialize', `${storeLabel(kv)} returned ${got} for "${name}" from materialize(); ${expected}.`);
    }
  }
  check.full = false;
}

/**
 * Throws a `PluginError` unless every past feed is a tensor of dims `[batch, kv heads, pastLength,
 * head dim]`: a store whose tensors disagree with its own `length` (or with the layout) would
 * otherwise fail in the backend, or, where a graph broadcasts, run on the wrong cache. About a
 * dozen comparisons per layer.
 */
function checkPastDims(kv: Owned<KvCacheStore>, feeds: Readonly<Record<string, BackendTensor>>, check: PastCheck, pastLength: number): void {
  const { numKvHeads, headDim } = check.layout;
  const names = check.names;
  for (let i = 0; i < names.length; i++) {
    const tensor = (feeds as Partial<Record<string, BackendTensor>> | null)?.[names[i]!];
    const dims = isTensor(tensor) ? tensor!.dims : undefined;
    if (dims !== undefined && dims.length === 4 && dims[0] === check.batchSize && dims[1] === numKvHeads && dims[2] === pastLength && dims[3] === headDim) continue;
    const want = `[${check.batchSize}, ${numKvHeads}, ${pastLength}, ${headDim}]`;
    const got = dims === undefined ? (tensor === undefined ? 'no tensor' : quoteValue(tensor)) : `a tensor of dims ${dimsText(dims)}`;
    throw new PluginError(
      kv.owner,
      'kv materialize',
      `${storeLabel(kv)} returned ${got} for "${names[i]}" from materialize(); it must be ${want} ([batch, key/value heads, the store's length, head dim]): its tensors disagree with its length ${pastLength} or with the cache layout it was given.`,
    );
  }
}

/** `[1, 2, 5, 8]` for dims of numbers, else how `quoteValue` shows them (a store's dims are untrusted). */
function dimsText(dims: readonly unknown[]): string {
  return dims.length <= 8 && dims.every((d) => typeof d === 'number') ? `[${dims.join(', ')}]` : quoteValue(dims);
}

/** Whether a feed looks like a tensor (the backend checks the rest). */
function isTensor(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Array.isArray((value as { dims?: unknown }).dims);
}

/** `the KV store "name"` for messages. */
function storeLabel(kv: Owned<KvCacheStore>): string {
  return `the KV store "${kv.name}"`;
}
