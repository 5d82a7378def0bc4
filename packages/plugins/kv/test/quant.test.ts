import ndarray from 'ndarray';
import { describe, expect, it } from 'vitest';
import {
  ChannelBlockLane,
  Fp16Lane,
  Fp32Lane,
  TieredLane,
  type Lane,
  decodeFp16,
  dequantize,
  encodeFp16,
  fromHalf,
  GroupLane,
  halfCeil,
  halfFloor,
  pack,
  packInt2,
  packInt4,
  quantizeGroups,
  quantizeRun,
  toHalf,
  unpack,
  unpackInt2,
  unpackInt4,
  type PackBits,
  type QuantBits,
} from '../src/index.js';

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const gaussian = (r: () => number) => (): number => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());

describe('fp16', () => {
  it('converts known values', () => {
    expect(toHalf(1)).toBe(0x3c00);
    expect(toHalf(-2)).toBe(0xc000);
    expect(toHalf(0.5)).toBe(0x3800);
    expect(toHalf(65504)).toBe(0x7bff);
    expect(toHalf(65519)).toBe(0x7bff);
    expect(toHalf(65520)).toBe(0x7c00); // the tie rounds to even: infinity
    expect(toHalf(Infinity)).toBe(0x7c00);
    expect(toHalf(-Infinity)).toBe(0xfc00);
    expect(toHalf(-0)).toBe(0x8000);
    expect(Number.isNaN(fromHalf(toHalf(NaN)))).toBe(true);
    expect(toHalf(2 ** -24)).toBe(0x0001);
    expect(toHalf(2 ** -25)).toBe(0x0000); // tie to even
    expect(toHalf(1.5 * 2 ** -24)).toBe(0x0002); // tie to even
    expect(toHalf(2 ** -14)).toBe(0x0400);
    expect(toHalf(1 + 2 ** -11)).toBe(0x3c00); // tie, even stays
    expect(toHalf(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, odd rounds up
    expect(fromHalf(0x7bff)).toBe(65504);
    expect(fromHalf(0x0001)).toBe(2 ** -24);
  });

  it('rounds every midpoint between neighbouring halves to the even one (and its float32 neighbours to the nearer)', () => {
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    const nudge = (x: number, d: number): number => {
      f[0] = x;
      u[0] = u[0]! + d;
      return f[0];
    };
    for (let h = 0; h < 0x7bff; h++) {
      for (const sign of [0, 0x8000]) {
        const lo = h | sign;
        const hi = (h + 1) | sign;
        expect(toHalf(fromHalf(lo))).toBe(lo);
        const mid = (fromHalf(lo) + fromHalf(hi)) / 2; // exact in float32
        const even = (h & 1) === 0 ? lo : hi;
        if (toHalf(mid) !== even) throw new Error(`midpoint of ${lo.toString(16)} and ${hi.toString(16)} rounded to ${toHalf(mid).toString(16)}`);
        if (toHalf(nudge(mid, 1)) !== hi || toHalf(nudge(mid, -1)) !== lo) throw new Error(`neighbours of the midpoint after ${lo.toString(16)}`);
      }
    }
  });

  it('keeps relative error ≤ 2^-11 in the normal range', () => {
    const r = rng(1);
    const values = new Float32Array(20000).map(() => (r() < 0.5 ? -1 : 1) * 2 ** (r() * 29 - 14) * (1 + r()) * 0.99);
    const back = decodeFp16(encodeFp16(values));
    for (let i = 0; i < values.length; i++) expect(Math.abs(back[i]! - values[i]!) / Math.abs(values[i]!)).toBeLessThanOrEqual(2 ** -11);
  });

  it('rounds down and up on request', () => {
    const r = rng(2);
    for (let i = 0; i < 5000; i++) {
      const x = Math.fround((r() - 0.5) * 10 ** (r() * 8 - 4));
      const down = fromHalf(halfFloor(x));
      const up = fromHalf(halfCeil(x));
      expect(down).toBeLessThanOrEqual(x);
      expect(up).toBeGreaterThanOrEqual(x);
      expect(up - down).toBeLessThanOrEqual(Math.max(Math.abs(x) * 2 ** -9, 2 ** -23));
    }
    expect(fromHalf(halfFloor(0))).toBe(0);
    expect(fromHalf(halfFloor(1e-9))).toBe(0);
    expect(fromHalf(halfCeil(1e-9))).toBe(2 ** -24);
    expect(fromHalf(halfFloor(-1e-9))).toBe(-(2 ** -24));
  });
});

describe('bit packing', () => {
  it('puts the first code in the lowest bits', () => {
    expect([...packInt4([1, 2, 15])]).toEqual([0x21, 0x0f]);
    expect([...packInt2([1, 2, 3, 0, 3])]).toEqual([0b00111001, 0b11]);
    expect([...unpackInt4(Uint8Array.of(0x21, 0x0f), 3)]).toEqual([1, 2, 15]);
    expect([...unpackInt2(Uint8Array.of(0b00111001), 4)]).toEqual([1, 2, 3, 0]);
  });

  it.each([1, 2, 4, 8] as PackBits[])('round-trips random %i-bit codes of odd lengths', (bits) => {
    const r = rng(bits);
    for (const count of [0, 1, 7, 33, 1001]) {
      const codes = Uint8Array.from({ length: count }, () => Math.floor(r() * 2 ** bits));
      const packed = pack(codes, bits);
      expect(packed.length).toBe(Math.ceil((count * bits) / 8));
      expect(unpack(packed, bits, count)).toEqual(codes);
    }
  });

  it('rejects codes that do not fit', () => {
    expect(() => packInt4([16])).toThrow(RangeError);
    expect(() => packInt2([-1])).toThrow(RangeError);
    expect(() => pack([1], 3 as PackBits)).toThrow(RangeError);
  });

  it('refuses an output array too short for the codes instead of filling part of it', () => {
    const packed = packInt2([1, 2, 3, 0]);
    expect(() => unpack(packed, 2, 4, new Uint8Array(2))).toThrow(/4 codes .* 2/);
    // One that fits (or is longer) is filled, as pack fills a longer buffer.
    expect([...unpack(packed, 2, 4, new Uint8Array(5))]).toEqual([1, 2, 3, 0, 0]);
  });
});

describe('group quantisation', () => {
  /** Largest error of each group relative to its scale / 2 (1 means exactly at the bound). */
  function worstRatio(values: Float32Array, back: Float32Array, scales: Float32Array, group: number): number {
    let worst = 0;
    for (let i = 0; i < values.length; i++) {
      const s = scales[Math.floor(i / group)]!;
      const err = Math.abs(back[i]! - values[i]!) - 1e-6 * Math.abs(values[i]!);
      worst = Math.max(worst, s === 0 ? (err > 0 ? Infinity : 0) : err / (s / 2));
    }
    return worst;
  }

  it.each([
    [8, 64, 'fp16'],
    [8, 32, 'fp32'],
    [4, 32, 'fp16'],
    [4, 7, 'fp32'],
    [2, 32, 'fp16'],
    [2, 128, 'fp16'],
  ] as [QuantBits, number, 'fp16' | 'fp32'][])('%i-bit, group %i, %s scales: max error ≤ scale/2 on random data', (bits, group, precision) => {
    const r = rng(bits * 1000 + group);
    const g = gaussian(r);
    const groups = 200;
    // Groups with different offsets and spreads, some constant, some with an outlier.
    const values = new Float32Array(groups * group);
    for (let k = 0; k < groups; k++) {
      const offset = (r() - 0.5) * 20;
      const spread = k % 17 === 0 ? 0 : 10 ** (r() * 4 - 3);
      for (let i = 0; i < group; i++) values[k * group + i] = offset + spread * g() * (k % 5 === 0 && i === 0 ? 30 : 1);
    }
    const q = quantizeGroups(values, { bits, group, precision });
    expect(q.codes.length).toBe(Math.ceil((values.length * bits) / 8));
    const back = dequantize(q);
    expect(worstRatio(values, back, q.scales, group)).toBeLessThanOrEqual(1);
    // The stored scale is the min/max scale rounded up only slightly.
    for (let k = 0; k < groups; k++) {
      const row = values.subarray(k * group, (k + 1) * group);
      const ideal = (Math.max(...row) - Math.min(...row)) / (2 ** bits - 1);
      expect(q.scales[k]).toBeGreaterThanOrEqual(ideal);
      expect(q.scales[k]!).toBeLessThanOrEqual(ideal * (1 + 2 ** -9) + 2 ** -23 + 2 * Math.abs(q.zeros[k]!) * 2 ** -10 / (2 ** bits - 1));
      if (precision === 'fp16') expect(fromHalf(toHalf(q.scales[k]!))).toBe(q.scales[k]);
    }
  });

  it('rounds (x − zero) / scale itself: a value halfway between two levels gets the upper code', () => {
    // Every fp16 scale in [1/8, 1/4) and every midpoint (k + ½)·scale that float32 holds exactly
    // (as float16 values and scales often are). A multiplication by a rounded 1 / scale sent
    // about 6% of them to the lower code.
    let wrong = 0;
    let ties = 0;
    const codes = new Uint8Array(1);
    for (let m = 0; m < 1024; m++) {
      const scale = (1 + m / 1024) / 8;
      for (let k = 0; k < 15; k++) {
        const x = Math.fround((k + 0.5) * scale);
        if (x !== (k + 0.5) * scale) continue;
        ties++;
        quantizeRun(Float32Array.of(x), 0, 1, 1, 4, 0, scale, codes, 0, 4);
        if ((codes[0]! & 15) !== k + 1) wrong++;
      }
    }
    expect(ties).toBeGreaterThan(10000);
    expect(wrong).toBe(0);
  });

  it.each(['fp16', 'fp32'] as const)('a NaN takes its group\'s lowest level, and a group of NaNs only reads back as NaN (%s scales)', (precision) => {
    const values = Float32Array.of(0.5, Number.NaN, -1, 2, Number.NaN, Number.NaN, Number.NaN, Number.NaN);
    const back = dequantize(quantizeGroups(values, { bits: 4, group: 4, precision }));
    expect(back[1]).toBe(-1);
    expect([...back.subarray(4)].every(Number.isNaN)).toBe(true);
    // The same through a store's lane: a token whose channels are all NaN.
    const lane = new GroupLane(4, 2, 4, precision);
    lane.push(values, 4, 1);
    const out = new Float32Array(4);
    lane.read(0, 1, out, 0);
    expect([...out].every(Number.isNaN)).toBe(true);
  });

  it('quantises strided views: per-channel groups of a [tokens, channels] block', () => {
    const tokens = 32;
    const channels = 16;
    const r = rng(9);
    const data = new Float32Array(tokens * channels).map((_, i) => (i % channels === 3 ? 50 : 0) + (r() - 0.5));
    const perChannel = ndarray(data, [tokens, channels]).transpose(1, 0); // [channels, tokens]
    const q = quantizeGroups(perChannel, { bits: 2 });
    expect(q.groups).toBe(channels);
    const out = ndarray(new Float32Array(tokens * channels), [tokens, channels]).transpose(1, 0);
    dequantize(q, out);
    for (let t = 0; t < tokens; t++) {
      for (let c = 0; c < channels; c++) {
        expect(Math.abs(out.get(c, t) - data[t * channels + c]!)).toBeLessThanOrEqual(q.scales[c]! / 2 + 1e-5);
      }
    }
    // The outlier channel does not widen the other channels' scales.
    expect(q.scales[3]).toBeLessThan(1);
    expect(Math.max(...q.scales)).toBeLessThan(1 / 3 + 0.01);
  });

  it('rejects malformed input', () => {
    expect(() => quantizeGroups(new Float32Array(10), { bits: 4, group: 3 })).toThrow(RangeError);
    expect(() => quantizeGroups(new Float32Array(8), { bits: 3 as QuantBits, group: 4 })).toThrow(RangeError);
    expect(() => quantizeGroups(ndarray(new Float32Array(8), [2, 2, 2]), { bits: 4 })).toThrow(RangeError);
    // A misspelt precision would otherwise store fp32 parameters and report 'FP16'.
    expect(() => quantizeGroups(new Float32Array(8), { bits: 4, group: 4, precision: 'FP16' as 'fp16' })).toThrow(/precision must be fp16 or fp32/);
  });

  it('refuses a flat output array shorter than the groups instead of dropping values', () => {
    const q = quantizeGroups(Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]), { bits: 8, group: 4 });
    expect(() => dequantize(q, new Float32Array(7))).toThrow(/8 values/);
    const out = new Float32Array(9).fill(-1);
    dequantize(q, out);
    expect(out[7]).toBeCloseTo(0.8, 2);
    expect(out[8]).toBe(-1);
  });

  it('refuses fp16 output arrays too short for the values', () => {
    expect(() => encodeFp16([1, 2, 3], new Uint16Array(2))).toThrow(RangeError);
    expect(() => encodeFp16([1, 2], new Uint16Array(3), 2)).toThrow(RangeError);
    expect(() => decodeFp16([0x3c00, 0x4000], new Float32Array(1))).toThrow(RangeError);
    expect([...decodeFp16([0x3c00, 0x4000], new Float32Array(3), 1)]).toEqual([0, 1, 2]);
  });
});

describe('lanes', () => {
  it('per-token groups bound the error of each token by its own range', () => {
    const lane = new GroupLane(32, 4, 32, 'fp16');
    const r = rng(3);
    const data = new Float32Array(50 * 32).map((_, i) => (Math.floor(i / 32) % 2 === 0 ? 100 : 1) * (r() - 0.5));
    lane.push(data, 0, 50);
    const back = new Float32Array(data.length);
    lane.read(0, 50, back, 0);
    for (let t = 0; t < 50; t++) {
      const bound = (t % 2 === 0 ? 100 : 1) / 15 / 2 + 1e-3;
      for (let c = 0; c < 32; c++) expect(Math.abs(back[t * 32 + c]! - data[t * 32 + c]!)).toBeLessThanOrEqual(bound);
    }
    expect(lane.bytes()).toBe(50 * (16 + 4));
  });

  it('per-channel blocks keep an outlier channel from hurting the others (KIVI keys)', () => {
    const lane = new ChannelBlockLane(8, 2, 32, 'fp16');
    const r = rng(4);
    const data = new Float32Array(64 * 8).map((_, i) => (i % 8 === 0 ? 40 : 0) + (r() - 0.5));
    lane.push(data, 0, 64);
    expect(lane.blockCount).toBe(2);
    const back = new Float32Array(data.length);
    lane.read(0, 64, back, 0);
    for (let i = 0; i < data.length; i++) expect(Math.abs(back[i]! - data[i]!)).toBeLessThanOrEqual(1 / 3 / 2 + 1e-3);
    // Evicting keeps the survivors' values and frees emptied blocks.
    lane.retain([1, 2, 40]);
    expect(lane.length).toBe(3);
    const kept = new Float32Array(3 * 8);
    lane.read(0, 3, kept, 0);
    expect([...kept]).toEqual([...back.subarray(8, 24), ...back.subarray(320, 328)]);
    lane.retain([2]);
    expect(lane.blockCount).toBe(1);
    expect(lane.bytes()).toBe(2 + 8 * 4);
    lane.dropFront(1);
    expect(lane.blockCount).toBe(0);
    expect(lane.bytes()).toBe(0);
  });
});

describe('lane operations (random sequences against a reference)', () => {
  const D = 6;
  const makers: [string, () => Lane][] = [
    ['fp32', () => new Fp32Lane(D)],
    ['fp16', () => new Fp16Lane(D)],
    ['int4 group 4', () => new GroupLane(D, 4, 4, 'fp16')],
    ['int8', () => new GroupLane(D, 8, D, 'fp32')],
    ['channel blocks', () => new ChannelBlockLane(D, 2, 3, 'fp16')],
    [
      'tiers int2 ← int8 ← fp32',
      () =>
        new TieredLane(
          [
            { lane: new GroupLane(D, 2, D, 'fp16'), capacity: Infinity },
            { lane: new GroupLane(D, 8, D, 'fp16'), capacity: 5, chunk: 2 },
            { lane: new Fp32Lane(D), capacity: 3 },
          ],
          D,
        ),
    ],
  ];
  it.each(makers)('%s: push, dropFront and retain keep every surviving token as stored', (_name, make) => {
    const r = rng(11);
    const lane = make();
    const tiered = lane instanceof TieredLane;
    /** What each live token reads back as (captured when it last changed). */
    let reference: Float32Array[] = [];
    const snapshot = (): Float32Array[] => {
      const all = new Float32Array(lane.length * D);
      lane.read(0, lane.length, all, 0);
      return Array.from({ length: lane.length }, (_, i) => all.slice(i * D, (i + 1) * D));
    };
    for (let op = 0; op < 400; op++) {
      const kind = r();
      if (kind < 0.5 || lane.length === 0) {
        const count = Math.floor(r() * 5);
        const src = new Float32Array((count + 1) * D).map(() => r() * 2 - 1);
        lane.push(src, D, count);
        const now = snapshot();
        // Pushed tokens read back close to their values; earlier ones change only where a tier moved them.
        for (let i = 0; i < count; i++) {
          const got = now[reference.length + i]!;
          for (let c = 0; c < D; c++) expect(Math.abs(got[c]! - src[D + i * D + c]!)).toBeLessThanOrEqual(0.34);
        }
        if (tiered) {
          const changed: number[] = [];
          lane.takeChanged!(changed);
          for (let k = 0; k < changed.length; k += 2) for (let i = changed[k]!; i < changed[k + 1]!; i++) if (i < reference.length) reference[i] = now[i]!;
        }
        reference = [...reference, ...now.slice(reference.length)];
      } else if (kind < 0.7) {
        const count = Math.floor(r() * (lane.length + 1));
        lane.dropFront(count);
        reference = reference.slice(count);
      } else {
        const keep = reference.map((_, i) => i).filter(() => r() < 0.7);
        lane.retain(keep);
        reference = keep.map((i) => reference[i]!);
      }
      expect(lane.length).toBe(reference.length);
      const now = snapshot();
      for (let i = 0; i < now.length; i++) expect([...now[i]!]).toEqual([...reference[i]!]);
      lane.takeChanged?.([]);
    }
  });
});
