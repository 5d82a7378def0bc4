import type { BackendTensor } from '../../spec/backend.js';
import type { KvSelection } from '../../spec/attention-router.js';
import type { InferenceSession } from '../../spec/backend.js';
import type { KvCacheInit, KvCacheStore, KvLayout } from '../../spec/kv-cache.js';
import { InvalidOptionsError } from '../../errors/invalid-options-error.js';
import { quoteValue } from '../../util/describe-cause.js';
import { sharedEmptyPast } from './empty-past.js';
import { gatherSlots } from './gather-slots.js';

/**
 * Default store: keeps each step's `present.*` tensors exactly as the backend returned them and
 * feeds them back as the next `past_key_values.*`, with no copy through JavaScript arrays.
 */
export class FullPrecisionKvStore implements KvCacheStore {
  readonly specificationVersion = 'v1' as const;
  readonly name: string = 'fp32';
  private layout: KvLayout | undefined;
  private batch = 0;
  private past: Readonly<Record<string, BackendTensor>> = {};
  /** Whether `past` is the shared empty set, which is never disposed. */
  private pastShared = false;
  /** False when the session's tensors are garbage-collected (dropped, not disposed). */
  private disposeTensors = true;
  private cached = 0;
  private session: Pick<InferenceSession, 'createTensor'> | undefined;
  /**
   * Absolute position of each slot per key/value head. `undefined` while it is the identity (slot i
   * holds position i: nothing evicted) and nobody asked: kept only from the first
   * `slotPositions()` or `retain`, so a plain run pushes nothing per step.
   */
  private positions: number[][] | undefined;
  /** Positions appended since `begin` (evicted ones included). */
  private seen = 0;

  get length(): number {
    return this.cached;
  }

  begin(init: KvCacheInit): void {
    if (this.layout) this.dispose();
    this.layout = init.layout;
    this.batch = init.batchSize;
    this.session = init.session;
    this.disposeTensors = init.session.garbageCollectedTensors !== true;
    this.positions = undefined;
    this.past = sharedEmptyPast(init.session, init.layout, init.batchSize);
    this.pastShared = true;
  }

  materialize(): Readonly<Record<string, BackendTensor>> {
    return this.past;
  }

  append(presents: Readonly<Record<string, BackendTensor>>): void {
    const layout = this.layout;
    if (!layout) throw new Error('FullPrecisionKvStore.append called before begin');
    // Plain loops, keys then values per layer in layout order (one hidden-class path every step).
    const next: Record<string, BackendTensor> = {};
    const layers = layout.pastKeyNames.length;
    const { numKvHeads: heads, headDim: dim } = layout;
    const batch = this.batch;
    // Every present must be [batch, heads, length, dim], length that of the first and ≥ the cache's.
    const length = layers > 0 ? (presents[layout.presentKeyNames[0]!]?.dims[2] ?? -1) : 0;
    if (!(length >= this.cached)) throw new Error(presentProblem(presents, layout, batch, this.cached, length));
    for (let i = 0; i < layers; i++) {
      const key = presents[layout.presentKeyNames[i]!];
      const value = presents[layout.presentValueNames[i]!];
      if (!fits(key, batch, heads, length, dim) || !fits(value, batch, heads, length, dim)) {
        throw new Error(presentProblem(presents, layout, batch, this.cached, length));
      }
      next[layout.pastKeyNames[i]!] = key!;
      next[layout.pastValueNames[i]!] = value!;
    }
    this.releasePast();
    this.past = next;
    // New slots take the next absolute positions (tokens seen so far), whatever was evicted.
    const added = length - this.cached;
    if (this.positions) for (const list of this.positions) for (let i = 0; i < added; i++) list.push(this.seen + i);
    this.seen += added;
    this.cached = length;
  }

  slotPositions(): readonly (readonly number[])[] {
    return this.trackedPositions();
  }

  /** Gathers the kept slots into new tensors and frees the old ones. */
  retain(selection: KvSelection): void {
    if (!this.session) throw new Error('FullPrecisionKvStore.retain called before begin');
    const next: Record<string, BackendTensor> = {};
    for (const [name, tensor] of Object.entries(this.past)) {
      const { data, dims } = gatherSlots(tensor.data as Float32Array, tensor.dims, selection);
      next[name] = this.session.createTensor('float32', data, dims);
    }
    this.releasePast();
    this.past = next;
    const positions = this.trackedPositions().map((list, h) => {
      const keep = selection.kind === 'shared' ? selection.slots : selection.slots[h]!;
      return keep.map((slot) => list[slot]!);
    });
    this.positions = positions;
    this.cached = positions[0]?.length ?? 0;
  }

  /** Copies the first `length` positions of every layer into new tensors and frees the old ones. */
  truncate(length: number): void {
    const session = this.session;
    if (!session) throw new Error('FullPrecisionKvStore.truncate called before begin');
    if (!Number.isInteger(length) || length <= 0 || length > this.cached) {
      throw new RangeError(`FullPrecisionKvStore.truncate(${length}): the length must be a whole number from 1 to ${this.cached}, the cached positions.`);
    }
    if (this.positions !== undefined && this.positions.some((list) => list.some((position, slot) => position !== slot))) {
      throw new Error('FullPrecisionKvStore.truncate: the cache has evicted positions, so its first slots are not a prefix of the tokens seen.');
    }
    if (length === this.cached) return;
    const next: Record<string, BackendTensor> = {};
    for (const name in this.past) {
      const tensor = this.past[name]!;
      const [batch, heads, cached, dim] = tensor.dims as [number, number, number, number];
      // float32, or float16 where a float16 graph's cache is kept as it came: a Uint16Array, or a
      // Float16Array where the platform has one (onnxruntime-common then uses it). Same class as the source.
      const from = tensor.data as Float32Array;
      const data = new (from.constructor as Float32ArrayConstructor)(batch * heads * length * dim);
      for (let row = 0; row < batch * heads; row++) data.set(from.subarray(row * cached * dim, (row * cached + length) * dim), row * length * dim);
      next[name] = session.createTensor(tensor.type, data, [batch, heads, length, dim]);
    }
    this.releasePast();
    this.past = next;
    this.positions = undefined;
    this.seen = length;
    this.cached = length;
  }

  /** The slot positions, starting to keep them (from the identity) if not yet kept. */
  private trackedPositions(): number[][] {
    if (this.positions) return this.positions;
    const heads = this.layout?.numKvHeads ?? 0;
    const positions: number[][] = [];
    for (let h = 0; h < heads; h++) {
      const list: number[] = [];
      for (let i = 0; i < this.cached; i++) list.push(i);
      positions.push(list);
    }
    this.positions = positions;
    return positions;
  }

  bytes(): number {
    let total = 0;
    for (const name in this.past) total += this.past[name]!.data.byteLength;
    return total;
  }

  dispose(): void {
    this.releasePast();
    this.past = {};
    this.cached = 0;
    this.positions = undefined;
    this.seen = 0;
    // An idle instance (a pooled one) holds on to no session.
    this.layout = undefined;
    this.session = undefined;
  }

  private releasePast(): void {
    if (!this.pastShared && this.disposeTensors) for (const name in this.past) this.past[name]!.dispose();
    this.pastShared = false;
  }
}

/** Whether a present tensor has dims [batch, heads, length, dim]. */
function fits(tensor: BackendTensor | undefined, batch: number, heads: number, length: number, dim: number): tensor is BackendTensor {
  if (tensor === undefined) return false;
  const dims = tensor.dims;
  return dims.length === 4 && dims[0] === batch && dims[1] === heads && dims[2] === length && dims[3] === dim;
}

/**
 * What is wrong with a step's presents, in the words of `@weft/plugin-kv`'s stores: a missing
 * tensor, dims other than [batch, heads, ≥past, dim], or lengths that disagree.
 */
function presentProblem(presents: Readonly<Record<string, BackendTensor>>, layout: KvLayout, batch: number, past: number, length: number): string {
  const { numKvHeads: heads, headDim: dim } = layout;
  for (let i = 0; i < layout.presentKeyNames.length; i++) {
    for (const name of [layout.presentKeyNames[i]!, layout.presentValueNames[i]!]) {
      const dims = presents[name]?.dims;
      if (!dims) return `The step did not return ${name}`;
      if (dims.length !== 4 || dims[0] !== batch || dims[1] !== heads || dims[3] !== dim || !(dims[2]! >= past)) {
        const config = dims.length === 4 && (dims[1] !== heads || dims[3] !== dim);
        const hint = config ? ": the graph's key/value heads or head size disagree with config.json (num_key_value_heads, head_dim)" : '';
        return `${name} has dims [${dims.join(', ')}]; expected [${batch}, ${heads}, ≥${past}, ${dim}]${hint}`;
      }
      if (dims[2] !== length) return `present tensors disagree on length (${dims[2]} vs ${length})`;
    }
  }
  return 'the present tensors do not match the layout';
}

/**
 * The registry's `fp32` entry: a new {@link FullPrecisionKvStore}. It has no options, so any given
 * (`--kv fp32:bits=4`, `{ name: 'fp32', options: { … } }`) is an `InvalidOptionsError` rather than
 * silently ignored; `{}` is accepted.
 */
export function createFullPrecisionKvStore(options?: unknown): FullPrecisionKvStore {
  const empty = options === undefined || options === null || (typeof options === 'object' && !Array.isArray(options) && Object.keys(options).length === 0);
  if (!empty) {
    const given = typeof options === 'object' && !Array.isArray(options) ? `options ${Object.keys(options).map((k) => JSON.stringify(k)).join(', ')}` : quoteValue(options);
    throw new InvalidOptionsError(`The kv store "fp32" takes no options (got ${given}); for a compressed cache, register @weft/plugin-kv and name one of its stores.`, {
      option: 'kv',
    });
  }
  return new FullPrecisionKvStore();
}
