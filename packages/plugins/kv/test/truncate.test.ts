import { describe, expect, it } from 'vitest';
import type { BackendTensor, KvCacheStore, KvLayout } from '@weft/core';
import { Fp16KvStore, Int4KvStore, Int8KvStore, KiviKvStore, TemporalKvStore } from '../src/index.js';
import { fakeLayout, fakeSession, fakeTensor } from '../src/conformance.js';
import { ChannelBlockLane } from '../src/lanes/channel-block-lane.js';
import type { LaneKvStore } from '../src/stores/lane-kv-store.js';
import { encodeFp16 } from '../src/quant/fp16.js';

/** How a store is begun: its layout, batch size and left padding. */
interface Shape {
  readonly layers: number;
  readonly heads: number;
  readonly dim: number;
  readonly batch: number;
  readonly padding?: readonly number[];
  readonly half?: boolean;
}

const SHAPE: Shape = { layers: 2, heads: 2, dim: 16, batch: 1 };

/**
 * The value a model would give position `pos` of (present `name`, row `b`, head `h`, channel `d`)
 * on branch `branch` of a conversation: a hash in [-1, 1), so two branches differ at every position.
 */
function valueAt(name: number, b: number, h: number, pos: number, d: number, branch: number): number {
  let x = Math.imul(name + 1, 0x9e3779b1) ^ Math.imul(b + 3, 0x85ebca6b) ^ Math.imul(h + 5, 0xc2b2ae35) ^ Math.imul(pos + 7, 0x27d4eb2f) ^ Math.imul(d + 11, 0x165667b1) ^ Math.imul(branch + 13, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x2c1b3c6d);
  x ^= x >>> 12;
  return ((x >>> 0) / 2 ** 32) * 2 - 1;
}

/** A store fed through a fake session, with the branch each position's values come from. */
class Feed {
  readonly layout: KvLayout;
  private readonly branches: number[] = [];

  constructor(
    readonly store: KvCacheStore,
    readonly shape: Shape = SHAPE,
  ) {
    const wide = fakeLayout(shape.layers, shape.heads, shape.dim);
    this.layout = shape.half ? { ...wide, pastType: 'float16' } : wide;
    const { session } = fakeSession();
    store.begin(shape.padding ? { layout: this.layout, batchSize: shape.batch, session, padding: shape.padding } : { layout: this.layout, batchSize: shape.batch, session });
  }

  /** Appends `count` positions of `branch` in one step ([batch, heads, past + count, dim] presents). */
  append(count: number, branch = 0): this {
    const { heads, dim, batch, half } = this.shape;
    const past = this.store.length;
    this.branches.length = past;
    for (let i = 0; i < count; i++) this.branches.push(branch);
    const total = past + count;
    const presents: Record<string, BackendTensor> = {};
    const names = [...this.layout.presentKeyNames, ...this.layout.presentValueNames];
    names.forEach((name, k) => {
      const data = new Float32Array(batch * heads * total * dim);
      for (let b = 0, i = 0; b < batch; b++) {
        for (let h = 0; h < heads; h++) for (let p = 0; p < total; p++) for (let d = 0; d < dim; d++) data[i++] = valueAt(k, b, h, p, d, this.branches[p]!);
      }
      presents[name] = half ? fakeTensor('float16', encodeFp16(data), [batch, heads, total, dim]) : fakeTensor('float32', data, [batch, heads, total, dim]);
    });
    this.store.append(presents);
    return this;
  }

  /** Appends one step per entry of `steps`, materializing before each (as the generation loop does). */
  steps(steps: readonly number[], branch = 0): this {
    for (const count of steps) {
      this.store.materialize();
      this.append(count, branch);
    }
    return this;
  }
}

/** Everything observable about a store: length, bytes, slot positions and the past it feeds, bit for bit. */
function snapshot(store: KvCacheStore): { length: number; bytes: number; positions: number[][]; feeds: Record<string, { dims: number[]; bits: number[] }> } {
  const feeds: Record<string, { dims: number[]; bits: number[] }> = {};
  for (const [name, tensor] of Object.entries(store.materialize())) {
    const data = tensor.data as Float32Array | Uint16Array;
    const bits = data instanceof Float32Array ? new Uint32Array(data.buffer, data.byteOffset, data.length) : data;
    feeds[name] = { dims: [...tensor.dims], bits: Array.from(bits) };
  }
  return { length: store.length, bytes: store.bytes(), positions: (store.slotPositions?.() ?? []).map((l) => [...l]), feeds };
}

/** Steps of a conversation of `total` positions: a prefill of `prefill`, then single-token decodes. */
function conversation(prefill: number, total: number): number[] {
  return [prefill, ...new Array<number>(total - prefill).fill(1)];
}

/** `steps` cut to their first `n` positions (the last step shortened). */
function firstPositions(steps: readonly number[], n: number): number[] {
  const out: number[] = [];
  let left = n;
  for (const s of steps) {
    if (left <= 0) break;
    out.push(Math.min(s, left));
    left -= s;
  }
  return out;
}

interface Case {
  readonly name: string;
  readonly create: () => LaneKvStore;
  readonly shape?: Shape;
  /** How the cached conversation was fed. */
  readonly steps: readonly number[];
  /** Cut points (the last, the whole length, is a no-op). */
  readonly cuts: readonly number[];
  /** The diverging prompt's suffix, appended in one step after the cut, then a decode step. */
  readonly suffix: number;
}

const cases: Case[] = [
  { name: 'fp16', create: () => new Fp16KvStore(), steps: conversation(25, 40), cuts: [1, 7, 24, 25, 39, 40], suffix: 6 },
  { name: 'int8', create: () => new Int8KvStore(), steps: conversation(25, 40), cuts: [1, 13, 25, 39, 40], suffix: 6 },
  { name: 'int4, group 8, head_dim 12 (ragged groups)', create: () => new Int4KvStore({ group: 8 }), shape: { ...SHAPE, dim: 12 }, steps: conversation(9, 30), cuts: [2, 9, 29, 30], suffix: 5 },
  // Everything still in the float32 residual (16 positions): the suffix then flushes key blocks and values.
  { name: 'kivi group 8, residual 16', create: () => new KiviKvStore({ group: 8, residual: 16 }), steps: conversation(10, 16), cuts: [1, 3, 8, 10, 15, 16], suffix: 12 },
  { name: 'kivi, fp16 residual', create: () => new KiviKvStore({ group: 8, residual: 16, residualPrecision: 'fp16' }), steps: conversation(5, 14), cuts: [4, 8, 13, 14], suffix: 20 },
  { name: 'kivi 4-bit, defaults R = G = 32', create: () => new KiviKvStore({ bits: 4 }), steps: conversation(20, 32), cuts: [1, 19, 31, 32], suffix: 40 },
  // Row 0 has 3 pad positions: cuts inside the pads, on their end and past them.
  { name: 'kivi, left-padded batch', create: () => new KiviKvStore({ group: 8, residual: 16 }), shape: { ...SHAPE, batch: 2, padding: [3, 0] }, steps: conversation(8, 15), cuts: [2, 3, 5, 14, 15], suffix: 11 },
  { name: 'temporal fp32=16,int8=32', create: () => new TemporalKvStore({ fp32: 16, int8: 32 }), steps: conversation(6, 16), cuts: [1, 6, 15, 16], suffix: 30 },
  { name: 'temporal fp32=0 (int4 only)', create: () => new TemporalKvStore({ fp32: 0 }), steps: conversation(20, 35), cuts: [1, 20, 34, 35], suffix: 7 },
  { name: 'int4, float16 graph cache', create: () => new Int4KvStore(), shape: { ...SHAPE, half: true }, steps: conversation(12, 20), cuts: [3, 12, 19], suffix: 4 },
  { name: 'kivi, float16 graph cache', create: () => new KiviKvStore({ group: 8, residual: 16 }), shape: { ...SHAPE, half: true }, steps: conversation(12, 16), cuts: [3, 12, 15], suffix: 9 },
];

describe('truncate equals a store fed only the kept positions', () => {
  describe.each(cases)('$name', ({ create, shape, steps, cuts, suffix }) => {
    const total = steps.reduce((a, b) => a + b, 0);
    const timings: [number, 'after an append' | 'after a materialize'][] = cuts.flatMap((n) => [[n, 'after an append'], [n, 'after a materialize']] as const);
    it.each(timings)('truncate(%i) %s, then a suffix', (n, when) => {
      const cut = new Feed(create(), shape).steps(steps);
      if (when === 'after a materialize') cut.store.materialize();
      expect(cut.store.truncate).toBeTypeOf('function');
      cut.store.truncate!(n);
      const fresh = new Feed(create(), shape).steps(firstPositions(steps, n));
      expect(cut.store.length).toBe(n);
      expect(cut.store.slotPositions!()).toEqual(Array.from({ length: cut.layout.numKvHeads }, () => Array.from({ length: n }, (_, i) => i)));
      expect(snapshot(cut.store)).toEqual(snapshot(fresh.store));
      // The diverging suffix (another branch), in one step, then a decode step.
      cut.steps([suffix, 1], 1);
      fresh.steps([suffix, 1], 1);
      expect(cut.store.length).toBe(n + suffix + 1);
      expect(snapshot(cut.store)).toEqual(snapshot(fresh.store));
      expect(total).toBeGreaterThanOrEqual(n);
    });
  });
});

describe('truncate refuses, changing nothing', () => {
  const refused = (store: KvCacheStore, cut: (n: number) => void, n: number, error: RegExp | (new (...args: never[]) => Error)): void => {
    const before = snapshot(store);
    expect(() => cut(n)).toThrow(error);
    expect(snapshot(store)).toEqual(before);
  };

  it.each([0, -1, 2.5, Number.NaN, 21])('a length of %s (not an integer in 1..length)', (n) => {
    const { store } = new Feed(new Int4KvStore()).steps([12, 8]);
    refused(store, store.truncate!, n, RangeError);
    refused(store, store.truncate!, n, /truncate takes a length from 1 to the cached length 20/);
  });

  it('a store that has evicted positions (retain)', () => {
    const { store } = new Feed(new Int8KvStore()).steps([12, 1]);
    store.retain!({ kind: 'shared', slots: [0, 1, 2, 5, 6, 7, 8, 9, 10, 11, 12] });
    refused(store, store.truncate!, 5, /cannot truncate a store that has evicted positions \(it holds 11 of the 13 appended\)/);
  });

  it('before begin and after dispose', () => {
    const store = new Fp16KvStore();
    expect(() => store.truncate!(1)).toThrow(/truncate called before begin/);
    new Feed(store).steps([4]);
    store.dispose();
    expect(() => store.truncate!(1)).toThrow(/truncate called before begin \(or after dispose\)/);
  });

  it('kivi once positions left the residual: inside a quantised key block, on a block boundary and inside the residual', () => {
    // group 8, residual 16, 30 positions: keys 0–15 in two blocks, 16–29 float32; values 0–13 quantised.
    const feed = new Feed(new KiviKvStore({ group: 8, residual: 16 })).steps(conversation(10, 16));
    const cut = feed.store.truncate!;
    feed.steps(new Array<number>(14).fill(1));
    expect(feed.store.truncate).toBeUndefined(); // not offered: a prompt cache prefills in full instead
    for (const n of [4, 8, 16, 20, 29]) refused(feed.store, cut, n, /kivi: cannot truncate 30 positions to \d+ exactly: .*(quantised key block|moved from the newest tier)/);
    // A cut that keeps every position is no change.
    cut(30);
    expect(feed.store.length).toBe(30);
  });

  it('temporal once positions left its newest tier', () => {
    const feed = new Feed(new TemporalKvStore()).steps([64]);
    const cut = feed.store.truncate!;
    feed.steps([1]);
    expect(feed.store.truncate).toBeUndefined();
    refused(feed.store, cut, 64, /temporal: cannot truncate 65 positions to 64 exactly: 1 of its 65 positions have already moved from the newest tier \(64 positions\)/);
 
    // A later run (begin again, as a reusable store is) offers it again.
    expect(new Feed(feed.store).steps([10]).store.truncate).toBeTypeOf('function');
  });

  it('stays offered by every per-token store, however long', () => {
    for (const store of [new Fp16KvStore(), new Int8KvStore(), new Int4KvStore(), new TemporalKvStore({ fp32: 0 })]) {
      expect(new Feed(store).steps([300]).store.truncate).toBeTypeOf('function');
    }
  });
});

describe('KIVI key blocks (ChannelBlockLane)', () => {
  const dim = 6;
  const tokens = (from: number, count: number): Float32Array => Float32Array.from({ length: count * dim }, (_, i) => valueAt(0, 0, 0, from + Math.floor(i / dim), i % dim, 0));
  const read = (lane: ChannelBlockLane): Float32Array => {
    const out = new Float32Array(lane.length * dim);
    lane.read(0, lane.length, out, 0);
    return out;
  };
  /** A lane pushed whole blocks of 4 (as KIVI's residual flushes them), `blocks` pushes of `sizes`. */
  const lane = (sizes: readonly number[]): ChannelBlockLane => {
    const l = new ChannelBlockLane(dim, 2, 4, 'fp16');
    let at = 0;
    for (const s of sizes) {
      l.push(tokens(at, s), 0, s);
      at += s;
    }
    return l;
  };

  it.each([4, 8, 0, 12])('cut on a block boundary (%i) equals a lane pushed only those blocks, and goes on alike', (n) => {
    const cut = lane([8, 4]);
    expect(cut.truncateRefusal(n)).toBeUndefined();
    cut.truncate(n);
    const fresh = lane(n === 0 ? [] : n === 12 ? [8, 4] : [n]);
    expect(cut.length).toBe(n);
    expect(cut.blockCount).toBe(n / 4);
    expect(cut.bytes()).toBe(fresh.bytes());
    expect(read(cut)).toEqual(read(fresh));
    cut.push(tokens(100, 8), 0, 8);
    fresh.push(tokens(100, 8), 0, 8);
    expect(read(cut)).toEqual(read(fresh));
  });

  it.each([1, 5, 7, 11])('refuses a cut inside a block (%i)', (n) => {
    const l = lane([8, 4]);
    const block = Math.floor(n / 4) * 4;
    expect(l.truncateRefusal(n)).toBe(`position ${n} falls inside a quantised key block (positions ${block}–${block + 3}), whose per-channel scales were fit to the positions after it; their float32 values are gone`);
  });
});

describe('a multi-token append onto a non-empty store equals one prefill of the same positions', () => {
  const stores: [string, () => KvCacheStore, Shape?][] = [
    ['fp16', () => new Fp16KvStore()],
    ['int8', () => new Int8KvStore()],
    ['int4 group 8', () => new Int4KvStore({ group: 8 })],
    ['kivi group 8, residual 12', () => new KiviKvStore({ group: 8, residual: 12 })],
    ['kivi defaults', () => new KiviKvStore()],
    ['kivi fp16 residual', () => new KiviKvStore({ group: 8, residual: 12, residualPrecision: 'fp16' })],
    ['kivi, left-padded batch', () => new KiviKvStore({ group: 8, residual: 12 }), { ...SHAPE, batch: 2, padding: [5, 0] }],
    ['kivi, float16 graph cache', () => new KiviKvStore({ group: 8, residual: 12 }), { ...SHAPE, half: true }],
    ['temporal fp32=8,fp16=16,int8=24,rest=int2', () => new TemporalKvStore({ fp32: 8, fp16: 16, int8: 24, rest: 'int2' })],
    ['temporal defaults', () => new TemporalKvStore()],
  ];
  // Splits of 90 positions: a kept conversation then a suffix of several tokens, across residual
  // flushes and tier moves; a decode step after each.
  it.each(stores)('%s', (_name, create, shape) => {
    const whole = snapshot(new Feed(create(), shape).steps([90, 1]).store);
    for (const split of [[3, 87], [10, 80], [13, 77], [40, 50], [70, 1, 19], [89, 1]]) {
      expect(snapshot(new Feed(create(), shape).steps([...split, 1]).store), `steps ${split.join(', ')}`).toEqual(whole);
    }
  });
});
