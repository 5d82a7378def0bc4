import { describe, expect, it } from 'vitest';
import {
  accumulateAttention,
  keyNorms,
  logitEntropy,
  perHeadTopWithRecent,
  repetitionRate,
  sinkWindowSlots,
  stridedSlots,
  sumHeads,
  topWithRecent,
  windowSlots,
} from '../src/index.js';

describe('pure slot selection', () => {
  it('window keeps the newest slots, or everything when the cache fits', () => {
    expect(windowSlots(10, 4)).toEqual([6, 7, 8, 9]);
    expect(windowSlots(4, 4)).toBeUndefined();
  });

  it('sink-window keeps the first sinks and the newest window', () => {
    expect(sinkWindowSlots(10, 2, 3)).toEqual([0, 1, 7, 8, 9]);
    expect(sinkWindowSlots(5, 2, 3)).toBeUndefined();
    expect(sinkWindowSlots(6, 0, 3)).toEqual([3, 4, 5]);
  });

  it('strided keeps a local window plus the newest multiples of the stride', () => {
    const identity = Array.from({ length: 20 }, (_, i) => i);
    // window = slots 16..19; older multiples of 3 from slot 15 down: 15, 12, 9, 6.
    expect(stridedSlots(identity, 8, 4, 3)).toEqual([6, 9, 12, 15, 16, 17, 18, 19]);
    // After an earlier eviction slots are not positions: the stride goes by position.
    const positions = [0, 3, 6, 9, 12, 15, 16, 17, 18, 19, 20];
    expect(stridedSlots(positions, 8, 4, 3)).toEqual([2, 3, 4, 5, 7, 8, 9, 10]);
    // Fewer multiples than room: keeps what there is.
    expect(stridedSlots(identity, 12, 4, 8)).toEqual([0, 8, 16, 17, 18, 19]);
    expect(stridedSlots(identity.slice(0, 8), 8, 4, 3)).toBeUndefined();
  });

  it('top-with-recent keeps the newest slots plus the highest older scores (ties: older)', () => {
    // Older candidates 0..3 score 5, 1, 4, 4: slot 0, then slot 2 wins the tie with slot 3.
    expect(topWithRecent([5, 1, 4, 4, 0, 9], 4, 2)).toEqual([0, 2, 4, 5]);
    expect(topWithRecent([5, 1, 4], 3, 1)).toBeUndefined();
    expect(topWithRecent([1, 2, 3, 4], 2, 0)).toEqual([2, 3]);
    expect(topWithRecent([1, 2, 3, 4], 2, 2)).toEqual([2, 3]);
  });

  it('per-head top-with-recent keeps equal counts, different slots', () => {
    expect(perHeadTopWithRecent([[9, 1, 1, 0], [1, 9, 1, 0]], 2, 1)).toEqual([
      [0, 3],
      [1, 3],
    ]);
    expect(Array.from(sumHeads([[9, 1, 1, 0], [1, 9, 1, 0]]))).toEqual([10, 10, 2, 0]);
  });
});

describe('pure scoring', () => {
  it('accumulates attention per key/value head, summing the query heads of each group', () => {
    // [batch 1, heads 4, seq 1, total 3]; heads 0,1 read kv head 0; heads 2,3 read kv head 1.
    const data = Float32Array.from([0.5, 0.25, 0.25, 0.1, 0.1, 0.8, 0, 1, 0, 0.2, 0.2, 0.6]);
    const into = [new Float64Array(3), new Float64Array([1, 0, 0])];
    accumulateAttention(into, data, [1, 4, 1, 3]);
    expect(Array.from(into[0]!).map((v) => +v.toFixed(6))).toEqual([0.6, 0.35, 1.05]);
    expect(Array.from(into[1]!).map((v) => +v.toFixed(6))).toEqual([1.2, 1.2, 0.6]);
  });

  it('sums query rows and only the requested batch rows', () => {
    // [batch 2, heads 1, seq 2, total 2]; row 1 is ignored with rows = 1.
    const data = Float32Array.from([1, 0, 0.5, 0.5, 9, 9, 9, 9]);
    const into = [new Float64Array(2)];
    accumulateAttention(into, data, [2, 1, 2, 2], 1);
    expect(Array.from(into[0]!)).toEqual([1.5, 0.5]);
  });

  it('computes key L2 norms per head and slot', () => {
    // [batch 1, kvHeads 2, slots 3, dim 2]
    const keys = Float32Array.from([3, 4, 1, 0, 0, 2, 0, 0.5, 0, 3, 6, 8]);
    const norms = keyNorms(keys, [1, 2, 3, 2]);
    expect(norms.map((h) => Array.from(h))).toEqual([
      [5, 1, 2],
      [0.5, 3, 10],
    ]);
  });

  it('measures entropy and repetition', () => {
    expect(logitEntropy([0, 0, 0, 0])).toBeCloseTo(Math.log(4), 10);
    expect(logitEntropy([100, 0, 0, 0])).toBeCloseTo(0, 10);
    // Trigrams 123, 231, 312, 123: one of four repeats.
    expect(repetitionRate([1, 2, 3, 1, 2, 3])).toBe(0.25);
    expect(repetitionRate([7, 7, 7, 7, 7])).toBeCloseTo(2 / 3, 10);
    expect(repetitionRate([1, 2, 3])).toBe(0);
  });
});
