import type { BackendTensor, InferenceSession, KvCacheInit, KvCacheStore, KvLayout, KvSelection } from '@weft/core';
import { undoPush, type Lane } from '../lanes/lane.js';
import type { PaddedLane } from '../lanes/padded-lane.js';
import { halfTable, saturatingHalves } from '../quant/fp16.js';

/** Which half of a layer's cache a lane holds. */
export type KvPart = 'key' | 'value';

/** One layer's keys or values: a lane per (batch row, head) and the float32 buffer the model is fed. */
interface Stream {
  readonly pastName: string;
  readonly presentName: string;
  readonly lanes: Lane[];
  /** Dequantised working buffer, [batch, heads, workSlots, dim] in its first elements; grows only. */
  work: Float32Array;
  /** For a float16 graph cache: `work` as float16, laid out alike and kept in step with it; what the model is fed. */
  half: Uint16Array | undefined;
  /**
   * For a float16 graph cache: `work`'s float32 bits, a view of its memory kept from step to step
   * (a new view per step costs an allocation); replaced with `work`, by {@link replaceWork} only.
   */
  bits: Uint32Array | undefined;
  /** Slots per row the working buffer is laid out for. */
  workSlots: number;
  /** Per lane: [start, end) pairs of slots to dequantise again (requantised tokens). */
  readonly changed: number[][];
  /** The tensor handed out by the last `materialize` (over `work`), until the next change. */
  tensor: BackendTensor | undefined;
}

/**
 * A {@link KvCacheStore} that keeps each layer's keys and values as one {@link Lane} per batch row
 * and key/value head, in whatever format the subclass's lanes use, and feeds the model float32
 * `past_key_values` dequantised into reusable per-layer buffers.
 *
 * Per step only new and requantised tokens are dequantised: `append` quantises the new tail of each
 * `present.*` tensor and disposes it; `materialize` shifts the rows of the working buffer to the
 * new length (one `copyWithin` per row) and dequantises the new tokens in place. Buffers change only
 * after `append` (or `retain`), when the tensors of the previous `materialize` are no longer used;
 * those tensors are disposed at the start of `append`. On a session whose
 * `garbageCollectedTensors` is true both are dropped instead of disposed.
 *
 * `append` is all or nothing. Presents that do not fit the layout are refused before any lane
 * takes a token; a lane that refuses its tokens (a `RangeError`: a value its format cannot hold,
 * on entry or as a tier moves tokens to a lower precision) throws after the lanes that took theirs
 * are reverted ({@link Lane.undoPush}). Either way the store is left as it was.
 *
 * A graph whose cache is float16 (`layout.pastType`, fp16 exports) is served natively: `append`
 * converts only the new tail of each float16 present, and the working buffer has a float16 twin,
 * updated for the same new and changed tokens, which the model is fed. That conversion saturates
 * finite values at ±65504: a dequantised value may land just past it (scales are rounded up)
 * though the value it stands for, a float16, fitted.
 */
export abstract class LaneKvStore implements KvCacheStore {
  readonly specificationVersion = 'v1' as const;
  abstract readonly name: string;
  /** Takes float16 presents and feeds a float16 past when the layout's cache is float16. */
  readonly float16Cache = true;
  private streams: Stream[] = [];
  private session: Pick<InferenceSession, 'createTensor'> | undefined;
  private layout: KvLayout | undefined;
  private batch = 0;
  private slots = 0;
  private positions: number[][] = [];
  /** Tokens appended since `begin`: the absolute index of the next token. */
  private seen = 0;
  private feeds: Record<string, BackendTensor> | undefined;
  /** False when the session's tensors are garbage-collected: dropped, not disposed. */
  private disposeTensors = true;

  /**
   * A lane for one row and head of a layer's keys or values, each token `dim` values. `padding` is
   * the row's left padding from `begin`'s `KvCacheInit.padding` (0 when absent): its first
   * `padding` tokens are pad tokens the attention mask hides. A format that groups tokens across
   * time should keep them apart ({@link PaddedLane}); per-token formats may ignore it.
   */
  protected abstract createLane(part: KvPart, layer: number, dim: number, padding: number): Lane;

  get length(): number {
    return this.slots;
  }

  begin(init: KvCacheInit): void {
    this.dispose();
    const { layout, batchSize, session, padding } = init;
    if (padding !== undefined && (padding.length !== batchSize || !padding.every((p) => Number.isInteger(p) && p >= 0))) {
      throw new RangeError(`${this.name}: begin's padding must hold one left-padding count (an integer ≥ 0) per batch row; got [${padding.join(', ')}] for batch size ${batchSize}`);
    }
    this.layout = layout;
    this.session = session;
    this.truncate = this.cut;
    this.disposeTensors = session.garbageCollectedTensors !== true;
    this.batch = batchSize;
    this.seen = 0;
    this.positions = Array.from({ length: layout.numKvHeads }, () => []);
    const rows = batchSize * layout.numKvHeads;
    const make = (part: KvPart, layer: number, pastName: string, presentName: string | undefined): Stream => {
      if (presentName === undefined) throw new Error(`The KV layout has no present output for ${pastName}`);
      const stream: Stream = {
        pastName,
        presentName,
        lanes: Array.from({ length: rows }, (_, r) => this.createLane(part, layer, layout.headDim, padding?.[Math.floor(r / layout.numKvHeads)] ?? 0)),
        work: new Float32Array(0),
        half: undefined,
        bits: undefined,
        workSlots: 0,
        changed: Array.from({ length: rows }, () => []),
        tensor: undefined,
      };
      replaceWork(stream, new Float32Array(0), layout.pastType === 'float16' ? new Uint16Array(0) : undefined);
      return stream;
    };
    layout.pastKeyNames.forEach((name, i) => this.streams.push(make('key', i, name, layout.presentKeyNames[i])));
    layout.pastValueNames.forEach((name, i) => this.streams.push(make('value', i, name, layout.presentValueNames[i])));
  }

  materialize(): Readonly<Record<string, BackendTensor>> {
    if (!this.layout || !this.session) throw new Error(`${this.name}: materialize called before begin (or after dispose)`);
    if (this.feeds) return this.feeds;
    const feeds: Record<string, BackendTensor> = {};
    const dims = [this.batch, this.layout.numKvHeads, this.slots, this.layout.headDim];
    const size = this.batch * this.layout.numKvHeads * this.slots * this.layout.headDim;
    for (const s of this.streams) {
      this.sync(s);
      s.tensor ??= s.half ? this.session.createTensor('float16', s.half.subarray(0, size), dims) : this.session.createTensor('float32', s.work.subarray(0, size), dims);
      feeds[s.pastName] = s.tensor;
    }
    this.feeds = feeds;
    return feeds;
  }

  append(presents: Readonly<Record<string, BackendTensor>>): void {
    const layout = this.layout;
    if (!layout) throw new Error(`${this.name}: append called before begin (or after dispose)`);
    this.releaseFeeds();
    try {
      const heads = layout.numKvHeads;
      const dim = layout.headDim;
      const past = this.slots;
      let total = -1;
      const type = layout.pastType === 'float16' ? 'float16' : 'float32';
      // Every present is checked before any lane takes a token: a malformed one leaves the store as it was.
      for (const s of this.streams) {
        const tensor = presents[s.presentName];
        if (!tensor) throw new Error(`The step did not return ${s.presentName}`);
        if (tensor.type !== type) throw new Error(`${this.name} was begun for a ${type} cache; ${s.presentName} is ${tensor.type}`);
        const [b, h, t, d] = tensor.dims as [number, number, number, number];
        if (tensor.dims.length !== 4 || b !== this.batch || h !== heads || d !== dim || t < past) {
          throw new Error(`${s.presentName} has dims [${tensor.dims.join(', ')}]; expected [${this.batch}, ${heads}, ≥${past}, ${dim}]`);
        }
        if (total >= 0 && t !== total) throw new Error(`present tensors disagree on length (${t} vs ${total})`);
        total = t;
      }
      if (total < 0) return;
      const count = total - past;
      // A lane may refuse its tokens (a value its format cannot hold): the lanes that took theirs
      // are then reverted, so the store stays as it was. Every lane holds `past` tokens before.
      const streams = this.streams;
      let stream = 0;
      let row = 0;
      try {
        for (; stream < streams.length; stream++) {
          row = 0;
          const s = streams[stream]!;
          const tensor = presents[s.presentName]!;
          // Only the new tail is read: positions [past, total) of each row (float16 converted first).
          const data = type === 'float16' ? newTokensAsFloat32(tensor.data as ArrayLike<number>, s.lanes.length, total, past, dim) : (tensor.data as Float32Array);
          const rowLength = type === 'float16' ? count : total;
          const skip = type === 'float16' ? 0 : past;
          for (; row < s.lanes.length; row++) s.lanes[row]!.push(data, (row * rowLength + skip) * dim, count);
        }
      } catch (error) {
        // Streams before `stream` took their tokens in every row, `stream` in rows before `row`.
        for (let i = 0; i <= stream && i < streams.length; i++) {
          const lanes = streams[i]!.lanes;
          for (let r = 0, end = i < stream ? lanes.length : row; r < end; r++) undoPush(lanes[r]!, past);
        }
        throw error;
      }
      for (const s of streams) for (let r = 0; r < s.lanes.length; r++) s.lanes[r]!.takeChanged?.(s.changed[r]!);
      // New slots hold the next absolute positions, even when an eviction removed the newest slot.
      const added = total - past;
      for (const list of this.positions) for (let j = 0; j < added; j++) list.push(this.seen + j);
      this.seen += added;
      this.slots = total;
      this.checkTruncate();
    } finally {
      if (this.disposeTensors) for (const tensor of Object.values(presents)) tensor.dispose();
    }
  }

  slotPositions(): readonly (readonly number[])[] {
    return this.positions;
  }

  retain(selection: KvSelection): void {
    const layout = this.layout;
    if (!layout) throw new Error(`${this.name}: retain called before begin (or after dispose)`);
    this.releaseFeeds();
    const heads = layout.numKvHeads;
    const dim = layout.headDim;
    const keepOf = (h: number): readonly number[] => (selection.kind === 'shared' ? selection.slots : selection.slots[h]!);
    const kept = keepOf(0).length;
    for (const s of this.streams) {
      // Bring the working buffer up to date, then gather it like the lanes: kept slots keep their
      // dequantised values, so nothing is dequantised twice.
      this.sync(s);
      const from = s.workSlots;
      for (let r = 0; r < s.lanes.length; r++) {
        const keep = keepOf(r % heads);
        if (keep.length !== kept) throw new Error('per-head selections must keep the same number of slots in every head');
        s.lanes[r]!.retain(keep);
        // In place: the destination never passes the source (kept ≤ from, keep[j] ≥ j).
        for (let j = 0; j < kept; j++) {
          const src = (r * from + keep[j]!) * dim;
          const dst = (r * kept + j) * dim;
          if (src !== dst) {
            s.work.copyWithin(dst, src, src + dim);
            s.half?.copyWithin(dst, src, src + dim);
          }
        }
      }
      s.workSlots = kept;
      this.invalidate(s);
    }
    this.positions = this.positions.map((list, h) => keepOf(h).map((slot) => list[slot]!));
    this.slots = kept;
  }

  /**
   * {@link KvCacheStore.truncate}, offered while a cut is exact (materialize, bytes and later
   * appends then equal those of the store fed only the first `length` positions, bit for bit):
   * always for per-token formats (`fp16`, `int8`, `int4`); for tiered ones (`kivi`, `temporal`)
   * only while every position is still in the newest, full-precision tier (at most `residual`,
   * resp. the newest tier's size, positions), since a shorter cache would hold positions already
   * quantised in full precision, and those values are gone. Undefined otherwise, so a prompt cache
   * prefills in full instead (an own property, present or not as the store's state allows; once
   * withdrawn it comes back only with `begin` or `dispose`). The method refuses (changing nothing)
   * a length that is not an integer in 1..length, a store that has evicted positions (`retain`),
   * and a cut that is not exact.
   */
  declare truncate?: (length: number) => void;

  private readonly cut = (length: number): void => {
    if (!this.layout) throw new Error(`${this.name}: truncate called before begin (or after dispose)`);
    if (!Number.isInteger(length) || length <= 0 || length > this.slots) {
      throw new RangeError(`${this.name}: truncate takes a length from 1 to the cached length ${this.slots} (got ${String(length)})`);
    }
    if (this.seen !== this.slots) {
      throw new Error(`${this.name}: cannot truncate a store that has evicted positions (it holds ${this.slots} of the ${this.seen} appended); truncate is for stores that evicted nothing`);
    }
    if (length === this.slots) return;
    const refusal = this.refusal(length);
    if (refusal !== undefined) throw new Error(`${this.name}: cannot truncate ${this.slots} positions to ${length} exactly: ${refusal}`);
    this.releaseFeeds();
    // Every lane is cut; the working buffers keep their first `length` slots per row (sync moves them).
    for (const s of this.streams) for (const lane of s.lanes) lane.truncate!(length);
    for (const list of this.positions) list.length = length;
    this.seen = length;
    this.slots = length;
  };

  constructor() {
    this.truncate = this.cut;
  }

  /** Withdraws `truncate` once no cut can be exact any more (tokens never return to a newer tier, so it stays withdrawn until `begin`). */
  private checkTruncate(): void {
    if (this.truncate !== undefined && this.seen === this.slots && this.slots > 1 && this.refusal(1) !== undefined) delete this.truncate;
  }

  /** The first lane's reason why it cannot be cut to `length` exactly, or undefined where every lane can. */
  private refusal(length: number): string | undefined {
    for (const s of this.streams) {
      for (const lane of s.lanes) {
        if (!lane.truncate) return 'its lanes cannot be cut';
        const reason = lane.truncateRefusal?.(length);
        if (reason !== undefined) return reason;
      }
    }
    return undefined;
  }

  /** Bytes at rest: every lane's codes, scales, zero points and full-precision tokens (not the working buffers). */
  bytes(): number {
    let total = 0;
    for (const s of this.streams) for (const lane of s.lanes) total += lane.bytes();
    return total;
  }

  /** Bytes of the working buffers the model is fed from (allocated capacity): float32, plus their float16 twins for a float16 graph cache. */
  workingBytes(): number {
    let total = 0;
    for (const s of this.streams) total += s.work.byteLength + (s.half?.byteLength ?? 0);
    return total;
  }

  dispose(): void {
    this.releaseFeeds();
    this.streams = [];
    this.slots = 0;
    this.seen = 0;
    this.positions = this.positions.map(() => []);
    // An idle instance (a pooled one) holds on to no session, and refuses appends and evictions
    // until the next begin (they would otherwise be dropped, or give a disposed store slots).
    this.session = undefined;
    this.layout = undefined;
    this.truncate = this.cut;
  }

  private invalidate(s: Stream): void {
    if (this.disposeTensors) s.tensor?.dispose();
    s.tensor = undefined;
  }

  private releaseFeeds(): void {
    for (const s of this.streams) this.invalidate(s);
    this.feeds = undefined;
  }

  /** Lays the working buffer out for the current slot count and dequantises new and changed tokens. */
  private sync(s: Stream): void {
    const layout = this.layout!;
    const dim = layout.headDim;
    const rows = s.lanes.length;
    const n = this.slots;
    const from = s.workSlots;
    if (n !== from) {
      const keep = Math.min(from, n) * dim;
      const need = rows * n * dim;
      if (s.work.length < need) {
        const capacity = Math.max(need, Math.ceil(s.work.length * 1.5));
        const next = new Float32Array(capacity);
        const nextHalf = s.half ? new Uint16Array(capacity) : undefined;
        for (let r = 0; r < rows; r++) {
          next.set(s.work.subarray(r * from * dim, r * from * dim + keep), r * n * dim);
          nextHalf?.set(s.half!.subarray(r * from * dim, r * from * dim + keep), r * n * dim);
        }
        replaceWork(s, next, nextHalf);
      } else if (n > from) {
        // Rows move right: last row first so no row overwrites one not yet moved.
        for (let r = rows - 1; r > 0; r--) {
          s.work.copyWithin(r * n * dim, r * from * dim, r * from * dim + keep);
          s.half?.copyWithin(r * n * dim, r * from * dim, r * from * dim + keep);
        }
      } else {
        for (let r = 1; r < rows; r++) {
          s.work.copyWithin(r * n * dim, r * from * dim, r * from * dim + keep);
          s.half?.copyWithin(r * n * dim, r * from * dim, r * from * dim + keep);
        }
      }
    }
    // The float16 twin saturates at ±65504: every value the store was given is a float16, but a
    // dequantised one may overshoot it (scales are rounded up), and Infinity would make attention NaN.
    const bits = s.bits;
    for (let r = 0; r < rows; r++) {
      const ranges = s.changed[r]!;
      if (n > from) ranges.push(from, n);
      if (ranges.length === 0) continue;
      const lane = s.lanes[r]!;
      for (const [a, b] of mergeRanges(ranges, n)) {
        lane.read(a, b, s.work, (r * n + a) * dim);
        if (bits) saturatingHalves(bits, (r * n + a) * dim, (r * n + b) * dim, s.half!);
      }
      ranges.length = 0;
    }
    s.workSlots = n;
  }
}

/**
 * Gives `s` new working buffers: `work`, its float16 twin `half` (for a float16 graph cache) and,
 * with it, the view of `work`'s bits the twin is converted from. The one place they change, so the
 * view always covers the current `work`.
 */
function replaceWork(s: Stream, work: Float32Array, half: Uint16Array | undefined): void {
  s.work = work;
  s.half = half;
  s.bits = half ? new Uint32Array(work.buffer, work.byteOffset, work.length) : undefined;
}

/**
 * Positions [past, total) of each of `rows` rows of a float16 present ([rows, total, dim] as
 * float16 bits), as float32, [rows, total - past, dim].
 */
function newTokensAsFloat32(data: ArrayLike<number>, rows: number, total: number, past: number, dim: number): Float32Array {
  const count = total - past;
  const out = new Float32Array(rows * count * dim);
  const table = halfTable();
  // Raw bits (Uint16Array), or numbers where the platform has Float16Array.
  const bits = data instanceof Uint16Array;
  for (let r = 0; r < rows; r++) {
    const from = (r * total + past) * dim;
    const to = r * count * dim;
    if (bits) for (let i = 0; i < count * dim; i++) out[to + i] = table[data[from + i]!]!;
    else for (let i = 0; i < count * dim; i++) out[to + i] = data[from + i]!;
  }
  return out;
}

/** Union of [start, end) pairs, clipped to [0, limit), ascending. */
function mergeRanges(pairs: readonly number[], limit: number): [number, number][] {
  const list: [number, number][] = [];
  for (let i = 0; i < pairs.length; i += 2) {
    const a = Math.max(0, pairs[i]!);
    const b = Math.min(limit, pairs[i + 1]!);
    if (a < b) list.push([a, b]);
  }
  list.sort((x, y) => x[0] - y[0]);
  const merged: [number, number][] = [];
  for (const [a, b] of list) {
    const last = merged[merged.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else merged.push([a, b]);
  }
  return merged;
}
