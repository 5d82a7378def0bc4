import type { BackendTensor } from '../../spec/backend.js';
import type { KvSelection } from '../../spec/attention-router.js';
import type { InferenceSession } from '../../spec/backend.js';
import type { KvCacheInit, KvCacheStore, KvLayout } from '../../spec/kv-cache.js';
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
  private past: Readonly<Record<string, BackendTensor>> = {};
  /** Whether `past` is the shared empty set, which is never disposed. */
  private pastShared = false;
  private cached = 0;
  private session: Pick<InferenceSession, 'createTensor'> | undefined;
  /** Absolute position of each slot per key/value head (identity until a router evicts). */
  private positions: number[][] = [];
  /** Positions appended since `begin` (evicted ones included). */
  private seen = 0;

  get length(): number {
    return this.cached;
  }

  begin(init: KvCacheInit): void {
    if (this.layout) this.dispose();
    this.layout = init.layout;
    this.session = init.session;
    this.positions = [];
    for (let h = 0; h < init.layout.numKvHeads; h++) this.positions.push([]);
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
    for (let i = 0; i < layers; i++) {
      next[layout.pastKeyNames[i]!] = present(presents, layout.presentKeyNames[i]!);
      next[layout.pastValueNames[i]!] = present(presents, layout.presentValueNames[i]!);
    }
    this.releasePast();
    this.past = next;
    const length = layers > 0 ? next[layout.pastKeyNames[0]!]!.dims[2]! : 0;
    // New slots take the next absolute positions (tokens seen so far), whatever was evicted.
    const added = length - this.cached;
    for (const list of this.positions) for (let i = 0; i < added; i++) list.push(this.seen + i);
    this.seen += added;
    this.cached = length;
  }

  slotPositions(): readonly (readonly number[])[] {
    return this.positions;
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
    this.positions = this.positions.map((list, h) => {
      const keep = selection.kind === 'shared' ? selection.slots : selection.slots[h]!;
      return keep.map((slot) => list[slot]!);
    });
    this.cached = this.positions[0]?.length ?? 0;
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
    this.positions = this.positions.map(() => []);
    this.seen = 0;
  }

  private releasePast(): void {
    if (!this.pastShared) for (const name in this.past) this.past[name]!.dispose();
    this.pastShared = false;
  }
}

function present(presents: Readonly<Record<string, BackendTensor>>, name: string): BackendTensor {
  const tensor = presents[name];
  if (!tensor) throw new Error(`The step did not return ${name}`);
  return tensor;
}
