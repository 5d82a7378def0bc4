/**
 * Every store against small reference quantisers written here straight from the formulas
 * (KIVI, arXiv 2402.02750: s = (max − min)/(2^b − 1), q = round((x − min)/s), x̂ = q·s + min, with
 * the zero point rounded down and the scale rounded up to the storage precision, as the README
 * states). Nothing from src/quant is used by the references: halves come from their own table.
 * The materialized past must equal the reference bit for bit, and `bytes()` must be exactly what
 * the reference holds.
 */
import { describe, expect, it } from 'vitest';
import type { BackendTensor, KvCacheStore, KvLayout, KvSelection } from '@weft/core';
import { Fp16KvStore, Int4KvStore, Int8KvStore, KiviKvStore, TemporalKvStore } from '../src/index.js';
import { fakeLayout, fakeSession, fakeTensor } from '../src/conformance.js';

// ---------------------------------------------------------------------------------------------
// Reference arithmetic
// ---------------------------------------------------------------------------------------------

/** Every finite half, ascending by value (−0 before +0), with its bit pattern. */
const HALVES: { value: number; bits: number }[] = (() => {
  const list: { value: number; bits: number }[] = [];
  for (let bits = 0; bits < 0x10000; bits++) {
    const e = (bits >> 10) & 0x1f;
    if (e === 0x1f) continue;
    const m = bits & 0x3ff;
    const mag = e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15);
    list.push({ value: bits & 0x8000 ? -mag : mag, bits });
  }
  list.sort((a, b) => a.value - b.value || (Object.is(a.value, -0) ? -1 : 1));
  return list;
})();
const MAX_HALF = 65504;

/** Index of the last half whose value is ≤ x (−1 when none). */
function lastAtMost(x: number): number {
  let lo = -1;
  let hi = HALVES.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (HALVES[mid]!.value <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

const refHalfFloor = (x: number): number => {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return Infinity;
  const i = lastAtMost(x);
  return i < 0 ? -Infinity : x === 0 ? x : HALVES[i]!.value;
};
const refHalfCeil = (x: number): number => -refHalfFloor(-x);

/** float32 → half, round to nearest, ties to the even bit pattern. */
function refToHalf(x: number): number {
  if (Number.isNaN(x) || x === 0) return x;
  if (Math.abs(x) >= 65520) return Math.sign(x) * Infinity;
  const i = lastAtMost(x);
  const a = HALVES[Math.max(i, 0)]!;
  const b = HALVES[Math.min(i + 1, HALVES.length - 1)]!;
  if (a.value === x) return x;
  const da = x - a.value;
  const db = b.value - x;
  const pick = da < db ? a : db < da ? b : (a.bits & 1) === 0 ? a : b;
  // A magnitude that rounds to zero keeps its sign.
  return pick.value === 0 ? (x < 0 ? -0 : 0) : pick.value;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** The next float32 above (dir 1) or below (dir −1) a float32 `x`. */
function f32Step(x: number, dir: 1 | -1): number {
  if (x === 0) return dir * 2 ** -149;
  f32[0] = x;
  u32[0] = u32[0]! + (x > 0 === (dir > 0) ? 1 : -1);
  return f32[0];
}
const refF32Floor = (x: number): number => (Math.fround(x) > x ? f32Step(Math.fround(x), -1) : Math.fround(x));
const refF32Ceil = (x: number): number => (Math.fround(x) < x ? f32Step(Math.fround(x), 1) : Math.fround(x));

type Precision = 'fp16' | 'fp32';
type Bits = 2 | 4 | 8;

/** One group's quantise → dequantise, as float32: the reference of every integer format. */
function refGroup(values: readonly number[], bits: Bits, precision: Precision): number[] {
  const levels = 2 ** bits - 1;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  // NaNs take no part in the range and get code 0; a group of NaNs only has no range: NaN.
  if (!(lo <= hi)) return values.map(() => NaN);
  const zero = precision === 'fp16' ? refHalfFloor(lo) : refF32Floor(lo);
  const scale = hi > zero ? (precision === 'fp16' ? refHalfCeil((hi - zero) / levels) : refF32Ceil((hi - zero) / levels)) : 0;
  return values.map((x) => {
    let q = scale > 0 ? Math.round((x - zero) / scale) : 0;
    if (!(q >= 0)) q = 0;
    if (q > levels) q = levels;
    return Math.fround(q * scale + zero);
  });
}

/** Per-token groups of `group` channels (the last one shorter). */
function refPerToken(token: readonly number[], bits: Bits, group: number, precision: Precision): number[] {
  const out: number[] = [];
  for (let c = 0; c < token.length; c += group) out.push(...refGroup(token.slice(c, c + group), bits, precision));
  return out;
}

/** One block of tokens quantised per channel. */
function refPerChannel(block: readonly number[][], bits: Bits, precision: Precision): number[][] {
  const dim = block[0]!.length;
  const out = block.map(() => new Array<number>(dim));
  for (let c = 0; c < dim; c++) {
    const q = refGroup(block.map((t) => t[c]!), bits, precision);
    q.forEach((v, t) => (out[t]![c] = v));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reference lanes: a list of tokens (as they read back) and the bytes they take
// ---------------------------------------------------------------------------------------------

interface RefLane {
  push(tokens: number[][]): void;
  read(): number[][];
  retain(keep: readonly number[]): void;
  bytes(): number;
}

const paramBytes = (p: Precision): number => (p === 'fp16' ? 4 : 8);
const codeBytes = (dim: number, bits: number): number => Math.ceil((dim * bits) / 8);

class RefDense implements RefLane {
  tokens: number[][] = [];
  constructor(private readonly half: boolean) {}
  push(tokens: number[][]): void {
    for (const t of tokens) this.tokens.push(this.half ? t.map(refToHalf) : t.map(Math.fround));
  }
  read(): number[][] {
    return this.tokens;
  }
  retain(keep: readonly number[]): void {
    this.tokens = keep.map((i) => this.tokens[i]!);
  }
  bytes(): number {
    return this.tokens.reduce((n, t) => n + t.length * (this.half ? 2 : 4), 0);
  }
}

class RefPerToken implements RefLane {
  tokens: number[][] = [];
  constructor(
    private readonly dim: number,
    private readonly bits: Bits,
    private readonly group: number,
    private readonly precision: Precision,
  ) {}
  push(tokens: number[][]): void {
    for (const t of tokens) this.tokens.push(refPerToken(t, this.bits, Math.min(this.group, this.dim), this.precision));
  }
  read(): number[][] {
    return this.tokens;
  }
  retain(keep: readonly number[]): void {
    this.tokens = keep.map((i) => this.tokens[i]!);
  }
  bytes(): number {
    const groups = Math.ceil(this.dim / Math.min(this.group, this.dim));
    return this.tokens.length * (codeBytes(this.dim, this.bits) + groups * paramBytes(this.precision));
  }
}

/** KIVI keys: blocks of `block` tokens quantised per channel; a block's parameters stay while any of its tokens does. */
class RefChannelBlocks implements RefLane {
  blocks: number[][][] = [];
  constructor(
    private readonly dim: number,
    private readonly bits: Bits,
    private readonly block: number,
    private readonly precision: Precision,
  ) {}
  push(tokens: number[][]): void {
    for (let i = 0; i < tokens.length; i += this.block) this.blocks.push(refPerChannel(tokens.slice(i, i + this.block), this.bits, this.precision));
  }
  read(): number[][] {
    return this.blocks.flat();
  }
  retain(keep: readonly number[]): void {
    const set = new Set(keep);
    let index = 0;
    this.blocks = this.blocks.map((b) => b.filter(() => set.has(index++))).filter((b) => b.length > 0);
  }
  bytes(): number {
    return this.blocks.reduce((n, b) => n + b.length * codeBytes(this.dim, this.bits) + this.dim * paramBytes(this.precision), 0);
  }
}

/** Tiers oldest first; a tier over its capacity passes its oldest tokens (as they read back) on, in multiples of `chunk`. */
class RefTiers implements RefLane {
  constructor(private readonly tiers: { lane: RefLane; capacity: number; chunk?: number }[]) {}
  push(tokens: number[][]): void {
    this.tiers[this.tiers.length - 1]!.lane.push(tokens);
    for (let i = this.tiers.length - 1; i > 0; i--) {
      const { lane, capacity, chunk = 1 } = this.tiers[i]!;
      const all = lane.read();
      const over = all.length - capacity;
      if (over <= 0) continue;
      const move = Math.ceil(over / chunk) * chunk;
      const moving = all.slice(0, move);
      lane.retain(all.map((_, j) => j).slice(move));
      this.tiers[i - 1]!.lane.push(moving);
    }
  }
  read(): number[][] {
    return this.tiers.flatMap((t) => t.lane.read());
  }
  retain(keep: readonly number[]): void {
    let start = 0;
    for (const { lane } of this.tiers) {
      const n = lane.read().length;
      lane.retain(keep.filter((k) => k >= start && k < start + n).map((k) => k - start));
      start += n;
    }
  }
  bytes(): number {
    return this.tiers.reduce((n, t) => n + t.lane.bytes(), 0);
  }
}

/** A left-padded row: its first `padding` tokens go to `pad`, the rest to `inner`. */
class RefPadded implements RefLane {
  private pending: number;
  constructor(
    padding: number,
    private readonly pad: RefLane,
    private readonly inner: RefLane,
  ) {
    this.pending = padding;
  }
  push(tokens: number[][]): void {
    const pads = Math.min(this.pending, tokens.length);
    if (pads > 0) this.pad.push(tokens.slice(0, pads));
    this.pending -= pads;
    if (tokens.length > pads) this.inner.push(tokens.slice(pads));
  }
  read(): number[][] {
    return [...this.pad.read(), ...this.inner.read()];
  }
  retain(keep: readonly number[]): void {
    const p = this.pad.read().length;
    this.pad.retain(keep.filter((k) => k < p));
    this.inner.retain(keep.filter((k) => k >= p).map((k) => k - p));
  }
  bytes(): number {
    return this.pad.bytes() + this.inner.bytes();
  }
}

type RefFactory = (part: 'key' | 'value', dim: number, padding: number) => RefLane;

const refFp16: RefFactory = () => new RefDense(true);
const refInt =
  (bits: 8 | 4, group: number, precision: Precision = 'fp16'): RefFactory =>
  (_part, dim) =>
    new RefPerToken(dim, bits, group, precision);
const refKivi =
  (o: { bits?: 2 | 4; group?: number; residual?: number; residualPrecision?: Precision; scales?: Precision } = {}): RefFactory =>
  (part, dim, padding) => {
    const bits = o.bits ?? 2;
    const G = o.group ?? 32;
    const R = o.residual ?? Math.max(32, G);
    const scales = o.scales ?? 'fp16';
    const residual = new RefDense(o.residualPrecision === 'fp16');
    const lane = new RefTiers([
      { lane: part === 'key' ? new RefChannelBlocks(dim, bits, G, scales) : new RefPerToken(dim, bits, G, scales), capacity: Infinity },
      { lane: residual, capacity: R, chunk: part === 'key' ? G : 1 },
    ]);
    return part === 'key' && padding > 0 ? new RefPadded(padding, new RefPerToken(dim, bits, G, scales), lane) : lane;
  };
const refTemporal =
  (tiers: [Precision | 'int8' | 'int4', number][], rest: 'int8' | 'int4' | 'int2', group = 32, scales: Precision = 'fp16'): RefFactory =>
  (_part, dim) => {
    const make = (p: string): RefLane => (p === 'fp32' ? new RefDense(false) : p === 'fp16' ? new RefDense(true) : new RefPerToken(dim, p === 'int8' ? 8 : p === 'int4' ? 4 : 2, group, scales));
    const list: { lane: RefLane; capacity: number }[] = [{ lane: make(rest), capacity: Infinity }];
    for (let i = tiers.length - 1; i >= 0; i--) {
      const capacity = tiers[i]![1] - (i > 0 ? tiers[i - 1]![1] : 0);
      if (capacity > 0) list.push({ lane: make(tiers[i]![0]), capacity });
    }
    return new RefTiers(list);
  };

// ---------------------------------------------------------------------------------------------
// Driving a store and its reference through the same steps
// ---------------------------------------------------------------------------------------------

type Op = { kind: 'append'; count: number } | { kind: 'retain'; selection: (length: number, heads: number) => KvSelection };
const append = (count: number): Op => ({ kind: 'append', count });
const steps = (n: number): Op[] => Array.from({ length: n }, () => append(1));
const keepShared = (f: (slot: number, n: number) => boolean): Op => ({
  kind: 'retain',
  selection: (n) => ({ kind: 'shared', slots: Array.from({ length: n }, (_, i) => i).filter((i) => f(i, n)) }),
});
/** Per head: head h drops slots with (slot + h) % 3 === 0 except the newest, then all keep the same count. */
const perHeadThirds: Op = {
  kind: 'retain',
  selection: (n, heads) => {
    const lists = Array.from({ length: heads }, (_, h) => Array.from({ length: n }, (_, i) => i).filter((i) => (i + h) % 3 !== 0 || i === n - 1));
    const count = Math.min(...lists.map((l) => l.length));
    return { kind: 'per-head', slots: lists.map((l) => l.slice(l.length - count)) };
  },
};

interface Scenario {
  readonly batch: number;
  readonly heads: number;
  readonly dim: number;
  readonly ops: readonly Op[];
  readonly padding?: readonly number[];
  /** Makes the channel values of a token. */
  readonly value?: (random: () => number, channel: number, token: number) => number;
  readonly float16?: boolean;
  /** Materialize (and compare) only after the ops whose index this returns true for (default: every op). */
  readonly checkAfter?: (op: number) => boolean;
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Bit-level equality (NaN equals NaN, −0 differs from +0). */
const same = (a: number, b: number): boolean => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

/**
 * Runs `store` and the reference through `scenario`; returns the first difference (or '') in
 * the fed past, `length`, `slotPositions()` or `bytes()`.
 */
function compare(store: KvCacheStore, ref: RefFactory, scenario: Scenario, seed = 1): string {
  const { batch: B, heads: H, dim: D } = scenario;
  const layers = 2;
  const base = fakeLayout(layers, H, D);
  const layout: KvLayout = scenario.float16 ? { ...base, pastType: 'float16' } : base;
  const pastNames = [...layout.pastKeyNames, ...layout.pastValueNames];
  const presentNames = [...layout.presentKeyNames, ...layout.presentValueNames];
  const random = rng(seed);
  const value = scenario.value ?? ((r: () => number) => Math.fround(r() * 4 - 2));
  const rows = B * H;
  const refs = presentNames.map((_, s) => Array.from({ length: rows }, (_, r) => ref(s < layers ? 'key' : 'value', D, scenario.padding?.[Math.floor(r / H)] ?? 0)));
  let positions: number[][] = Array.from({ length: H }, () => []);
  let seen = 0;
  store.begin({ layout, batchSize: B, session: fakeSession().session, ...(scenario.padding ? { padding: scenario.padding } : {}) });
  const check = (when: string): string => {
    const feeds = store.materialize();
    const n = positions[0]!.length;
    if (store.length !== n) return `${when}: length ${store.length}, expected ${n}`;
    const got = store.slotPositions?.();
    if (got && JSON.stringify(got) !== JSON.stringify(positions)) return `${when}: slot positions ${JSON.stringify(got)}`;
    for (let s = 0; s < pastNames.length; s++) {
      const t = feeds[pastNames[s]!]!;
      if (t.type !== (scenario.float16 ? 'float16' : 'float32')) return `${when}: ${pastNames[s]} is ${t.type}`;
      if (JSON.stringify(t.dims) !== JSON.stringify([B, H, n, D])) return `${when}: ${pastNames[s]} dims ${JSON.stringify(t.dims)}`;
      for (let r = 0; r < rows; r++) {
        const want = refs[s]![r]!.read();
        if (want.length !== n) return `${when}: reference holds ${want.length} tokens, not ${n}`;
        for (let slot = 0; slot < n; slot++) {
          for (let c = 0; c < D; c++) {
            const i = (r * n + slot) * D + c;
            const fed = scenario.float16 ? halfBitsToNumber((t.data as Uint16Array)[i]!) : (t.data as Float32Array)[i]!;
            const w = scenario.float16 ? refToHalf(want[slot]![c]!) : want[slot]![c]!;
            if (!same(fed, w)) return `${when}: ${pastNames[s]} row ${r} slot ${slot} channel ${c} is ${fed}, reference ${w}`;
          }
        }
      }
    }
    const bytes = refs.flat().reduce((a, l) => a + l.bytes(), 0);
    if (store.bytes() !== bytes) return `${when}: bytes() ${store.bytes()}, reference ${bytes}`;
    return '';
  };
  let problem = check('after begin');
  for (const [i, op] of scenario.ops.entries()) {
    if (problem) break;
    const n = positions[0]!.length;
    if (op.kind === 'append') {
      const presents: Record<string, BackendTensor> = {};
      presentNames.forEach((name, s) => {
        const total = n + op.count;
        const data = scenario.float16 ? new Uint16Array(rows * total * D).fill(0x7e00) : new Float32Array(rows * total * D).fill(Number.NaN);
        for (let r = 0; r < rows; r++) {
          const tokens: number[][] = [];
          for (let j = 0; j < op.count; j++) {
            const token = Array.from({ length: D }, (_, c) => value(random, c, seen + j));
            const stored = scenario.float16 ? token.map(refToHalf) : token.map(Math.fround);
            stored.forEach((v, c) => (data[(r * total + n + j) * D + c] = scenario.float16 ? numberToHalfBits(v) : v));
            tokens.push(stored);
          }
          refs[s]![r]!.push(tokens);
        }
        // The past part of a present is what the model was fed; the store must not read it.
        presents[name] = fakeTensor(scenario.float16 ? 'float16' : 'float32', data, [B, H, total, D]);
      });
      store.append(presents);
      for (const list of positions) for (let j = 0; j < op.count; j++) list.push(seen + j);
      seen += op.count;
    } else {
      const selection = op.selection(n, H);
      store.retain!(selection);
      const keepOf = (h: number): readonly number[] => (selection.kind === 'shared' ? selection.slots : selection.slots[h]!);
      for (const lanes of refs) lanes.forEach((lane, r) => lane.retain(keepOf(r % H)));
      positions = positions.map((list, h) => keepOf(h).map((slot) => list[slot]!));
    }
    if (scenario.checkAfter && !scenario.checkAfter(i) && i !== scenario.ops.length - 1) continue;
    problem = check(`op ${i} (${op.kind}${op.kind === 'append' ? ` ${op.count}` : ''})`);
  }
  store.dispose();
  return problem;
}

function halfBitsToNumber(bits: number): number {
  const e = (bits >> 10) & 0x1f;
  const m = bits & 0x3ff;
  const sign = bits & 0x8000 ? -1 : 1;
  if (e === 0x1f) return m === 0 ? sign * Infinity : NaN;
  return sign * (e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15));
}
function numberToHalfBits(v: number): number {
  if (Number.isNaN(v)) return 0x7e00;
  if (Math.abs(v) === Infinity) return v > 0 ? 0x7c00 : 0xfc00;
  const i = lastAtMost(v);
  const h = HALVES[i]!;
  if (h.value !== v) throw new Error(`${v} is not a half`);
  return Object.is(v, -0) ? 0x8000 : Object.is(v, 0) ? 0 : h.bits;
}

// ---------------------------------------------------------------------------------------------
// The sweep
// ---------------------------------------------------------------------------------------------

type Case = [string, () => KvCacheStore, RefFactory];
const CASES: Case[] = [
  ['fp16', () => new Fp16KvStore(), refFp16],
  ['int8', () => new Int8KvStore(), refInt(8, 64)],
  ['int8 group 5, fp32 scales', () => new Int8KvStore({ group: 5, scales: 'fp32' }), refInt(8, 5, 'fp32')],
  ['int4', () => new Int4KvStore(), refInt(4, 32)],
  ['int4 group 3', () => new Int4KvStore({ group: 3 }), refInt(4, 3)],
  ['int4 group 8, fp32 scales', () => new Int4KvStore({ group: 8, scales: 'fp32' }), refInt(4, 8, 'fp32')],
  ['kivi', () => new KiviKvStore(), refKivi()],
  ['kivi G 8, R 12', () => new KiviKvStore({ group: 8, residual: 12 }), refKivi({ group: 8, residual: 12 })],
  ['kivi G 5, R 5, fp32 scales', () => new KiviKvStore({ group: 5, residual: 5, scales: 'fp32' }), refKivi({ group: 5, residual: 5, scales: 'fp32' })],
  ['kivi 4-bit G 16 R 20', () => new KiviKvStore({ bits: 4, group: 16, residual: 20 }), refKivi({ bits: 4, group: 16, residual: 20 })],
  ['kivi G 8 R 8 fp16 residual', () => new KiviKvStore({ group: 8, residual: 8, residualPrecision: 'fp16' }), refKivi({ group: 8, residual: 8, residualPrecision: 'fp16' })],
  ['temporal', () => new TemporalKvStore(), refTemporal([['fp32', 64], ['int8', 256]], 'int4')],
  [
    'temporal fp32=4,fp16=9,int8=15,int4=20,rest=int2, group 6',
    () => new TemporalKvStore({ fp32: 4, fp16: 9, int8: 15, int4: 20, rest: 'int2', group: 6 }),
    refTemporal([['fp32', 4], ['fp16', 9], ['int8', 15], ['int4', 20]], 'int2', 6),
  ],
  ['temporal fp32=0,int8=7, fp32 scales', () => new TemporalKvStore({ fp32: 0, int8: 7, scales: 'fp32' }), refTemporal([['fp32', 0], ['int8', 7]], 'int4', 32, 'fp32')],
];

/** Prefill 45 (straddling blocks and residuals), steps, a shared eviction, steps, per-head, a chunk, a window. */
const LONG_RUN: Op[] = [
  append(45),
  ...steps(40),
  keepShared((i, n) => i >= 3 && (i % 4 !== 0 || i === n - 1)),
  ...steps(25),
  perHeadThirds,
  ...steps(30),
  append(7),
  keepShared((i, n) => i >= n - 11),
  ...steps(45),
  keepShared((i, n) => i !== n - 2),
  ...steps(3),
];

describe('every store feeds exactly what a reference quantiser built from the formulas gives, and counts its bytes exactly', () => {
  describe.each(CASES)('%s', (name, create, ref) => {
    it.each([
      ['head_dim 32, batch 1, 2 kv heads', { batch: 1, heads: 2, dim: 32 }],
      ['odd head_dim 7, 1 kv head', { batch: 1, heads: 1, dim: 7 }],
      ['head_dim 12, batch 2, 3 kv heads', { batch: 2, heads: 3, dim: 12 }],
    ])('%s: prefill, 1-token steps, shared and per-head eviction', (_label, shape) => {
      expect(compare(create(), ref, { ...shape, ops: LONG_RUN })).toBe('');
    });

    it('batch 3, left padding [5, 0, 40], evictions inside the padding and the residual', () => {
      const ops: Op[] = [append(50), ...steps(20), keepShared((i, n) => i !== 2 && i !== 44 && (i % 7 !== 3 || i === n - 1)), ...steps(40), keepShared((i, n) => i >= n - 9), ...steps(10)];
      expect(compare(create(), ref, { batch: 3, heads: 2, dim: 10, ops, padding: [5, 0, 40] })).toBe('');
    });

    it('a float16 cache: the float16 of the same values', () => {
      expect(compare(create(), ref, { batch: 2, heads: 2, dim: 9, ops: LONG_RUN, float16: true })).toBe('');
    });

    it('constant channels, −0, tiny and large magnitudes', () => {
      const value = (r: () => number, c: number, t: number): number => {
        switch (c % 6) {
          case 0:
            return 0.3; // constant channel (not a half)
          case 1:
            return -0;
          case 2:
            return Math.fround((r() - 0.5) * 1e-6); // subnormal-half territory
          case 3:
            return Math.fround((r() - 0.5) * 6e4); // near the fp16 limit
          case 4:
            return t % 3 === 0 ? -0 : 0;
          default:
            return Math.fround(1000 + r());
        }
      };
      expect(compare(create(), ref, { batch: 1, heads: 2, dim: 12, ops: LONG_RUN, value })).toBe('');
    });

    /** NaN and ±Infinity here and there, and one channel of values up to ±`large`. */
    const extremes =
      (large: number) =>
      (r: () => number, c: number, t: number): number => {
        if (c === 0 && t % 5 === 1) return Number.NaN;
        if (c === 1 && t % 7 === 2) return Infinity;
        if (c === 2 && t % 11 === 3) return -Infinity;
        if (c === 3) return Number.NaN;
        if (c === 4) return Math.fround((r() - 0.5) * 2 * large);
        return Math.fround(r() * 2 - 1);
      };

    it('NaN, ±Infinity and large values within the fp16 range', () => {
      expect(compare(create(), ref, { batch: 1, heads: 2, dim: 8, ops: LONG_RUN, value: extremes(6e4) })).toBe('');
    });

    it('finite values beyond the fp16 range: exact where the store keeps fp32, a RangeError where fp16 cannot hold them', () => {
      const run = (): string => compare(create(), ref, { batch: 1, heads: 2, dim: 8, ops: LONG_RUN, value: extremes(1.5e5) });
      if (name.includes('fp32 scales')) expect(run()).toBe('');
      else expect(run).toThrow(/fp16/);
    });

    it('edges: empty prefill, block/residual boundaries, evicting everything, keeping everything', () => {
      const ops: Op[] = [
        append(0),
        append(1),
        append(7),
        append(24),
        append(0),
        ...steps(9),
        keepShared(() => true),
        append(33),
        keepShared(() => false),
        append(0),
        append(3),
        ...steps(70),
        keepShared((i) => i % 2 === 1),
        append(64),
        append(65),
        ...steps(40),
      ];
      expect(compare(create(), ref, { batch: 2, heads: 1, dim: 16, ops })).toBe('');
    });

    it('materialized only now and then: several appends and evictions between two materializes', () => {
      expect(compare(create(), ref, { batch: 2, heads: 2, dim: 12, ops: LONG_RUN, checkAfter: (i) => i % 7 === 3 })).toBe('');
      expect(compare(create(), ref, { batch: 1, heads: 2, dim: 12, ops: LONG_RUN, checkAfter: (i) => i % 5 === 0, float16: true }, 3)).toBe('');
    });
  });
});
