import { describe, expect, it } from 'vitest';
import { applyMinP, applyRepetitionPenalty, applyTopK, applyTopP, argmax, logSumExp, sampleCategorical, seededRandom, settleNonFinite, softmax, StopMatcher } from '../src/index.js';

const logits = () => Float32Array.from([2, 1, 0.5, -1, 3]);

describe('logits processing', () => {
  it('top-k keeps the k largest', () => {
    const l = logits();
    applyTopK(l, 2);
    expect([...l]).toEqual([2, -Infinity, -Infinity, -Infinity, 3]);
  });

  it('top-p keeps the smallest nucleus reaching p', () => {
    const l = logits();
    const p = softmax(l); // ≈ [.23, .08, .05, .01, .63]
    applyTopP(l, p[4]! + 0.01);
    expect([...l].map((v) => v !== -Infinity)).toEqual([true, false, false, false, true]);
    const all = logits();
    applyTopP(all, 1);
    expect(all.every((v) => v !== -Infinity)).toBe(true);
  });

  it('min-p drops tokens below minP times the top probability', () => {
    const l = logits();
    applyMinP(l, 0.3); // top ≈ .63, floor ≈ .19 → keeps ids 0 and 4
    expect([...l].map((v) => v !== -Infinity)).toEqual([true, false, false, false, true]);
  });

  it('repetition penalty divides positive and multiplies negative logits once per token', () => {
    const l = logits();
    applyRepetitionPenalty(l, [0, 3, 0], 2);
    expect([...l]).toEqual([1, 1, 0.5, -2, 3]);
  });

  it('argmax takes the first maximum; logSumExp is stable', () => {
    expect(argmax(Float32Array.from([1, 5, 5]))).toBe(1);
    expect(logSumExp(Float32Array.from([1000, 1000]))).toBeCloseTo(1000 + Math.log(2), 6);
  });

  it('sampleCategorical draws by cumulative probability and never a token of probability 0', () => {
    // softmax([ln 1, ln 3, -Inf, ln 4]) = [0.125, 0.375, 0, 0.5]
    const l = Float32Array.from([0, Math.log(3), -Infinity, Math.log(4)]);
    expect([0, 0.1, 0.13, 0.49, 0.51, 0.99, 0.999999].map((u) => sampleCategorical(l, u))).toEqual([0, 0, 1, 1, 3, 3, 3]);
  });

  it('sampleCategorical settles non-finite logits itself, leaves its input as it was, and gives -1 when nothing can be drawn', () => {
    const nan = Float32Array.from([Number.NaN, Math.log(1), Number.NaN, Math.log(3)]);
    expect([0, 0.2, 0.3, 0.999999].map((u) => sampleCategorical(nan, u))).toEqual([1, 1, 3, 3]);
    expect(Number.isNaN(nan[0])).toBe(true);
    const inf = Float32Array.from([Infinity, 5, Number.NaN, Infinity]);
    expect([0.2, 0.7].map((u) => sampleCategorical(inf, u))).toEqual([0, 3]);
    expect(inf[0]).toBe(Infinity);
    expect(sampleCategorical(Float32Array.from([-Infinity, -Infinity, -Infinity]), 0.5)).toBe(-1);
    expect(sampleCategorical(Float32Array.from([Number.NaN, -Infinity]), 0.1)).toBe(-1);
  });

  it('settleNonFinite makes NaN never drawn and lets +Infinity logits share all the probability', () => {
    const nan = Float32Array.from([Number.NaN, 1, 2]);
    settleNonFinite(nan);
    expect([...nan]).toEqual([-Infinity, 1, 2]);
    const inf = Float32Array.from([Infinity, 5, Number.NaN, Infinity]);
    settleNonFinite(inf);
    expect([...inf]).toEqual([0, -Infinity, -Infinity, 0]);
    expect([0.2, 0.7].map((u) => sampleCategorical(inf, u))).toEqual([0, 3]);
  });

  it('seeded random repeats per seed and differs across seeds', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const c = seededRandom(43);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c())).not.toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('seeded random uses every bit of a safe-integer seed, and keeps the sequences of seeds below 2^32', () => {
    const first = (seed: number) => seededRandom(seed)();
    expect(first(1)).not.toBe(first(2 ** 32 + 1));
    expect(first(-1)).not.toBe(first(2 ** 32 - 1));
    expect(first(7)).not.toBe(first(-(2 ** 32) + 7));
    // Sequences recorded before high bits counted: seeds in [0, 2^32) still give them.
    expect(first(42)).toBe(0.4813160905614495);
    expect(first(2 ** 31 + 5)).toBe(0.3253432821948081);
  });
});

describe('StopMatcher', () => {
  it('matches across pushes, holds back possible prefixes and never emits the stop string', () => {
    const m = new StopMatcher(['The end']);
    expect(m.push('Lily slept. Th')).toEqual({ emit: 'Lily slept. ', stopped: false });
    expect(m.push('e e')).toEqual({ emit: '', stopped: false });
    expect(m.push('nd.')).toEqual({ emit: '', stopped: true });
  });

  it('releases held text when the prefix does not continue', () => {
    const m = new StopMatcher(['\n\n']);
    expect(m.push('a\n')).toEqual({ emit: 'a', stopped: false });
    expect(m.push('b')).toEqual({ emit: '\nb', stopped: false });
    expect(m.flush()).toBe('');
  });

  it('cuts at the earliest of several stop strings', () => {
    const m = new StopMatcher(['cat', 'dog']);
    expect(m.push('a dog and a cat')).toEqual({ emit: 'a ', stopped: true });
  });
});

describe('parseNamedRef', () => {
  it('parses names with typed options and rejects malformed specs', async () => {
    const { parseNamedRef } = await import('../src/index.js');
    expect(parseNamedRef('fp32')).toEqual({ name: 'fp32' });
    expect(parseNamedRef('sink-window:sinks=4,window=256,positions=cache')).toEqual({
      name: 'sink-window',
      options: { sinks: 4, window: 256, positions: 'cache' },
    });
    expect(parseNamedRef('kivi:residual=128,quiet=true')).toEqual({ name: 'kivi', options: { residual: 128, quiet: true } });
    expect(() => parseNamedRef('int4:group')).toThrow(/must be key=value\.$/);
    // A list's second item, and a key with no value, say what to do.
    expect(() => parseNamedRef('ban:words=Fern,Theo', '--processor')).toThrow(/^--processor: "Theo" in "ban:words=Fern,Theo" must be key=value; a value is one number or string, never a list \(several values go in one string, for a component that splits it\)\.$/);
    expect(() => parseNamedRef('ban:words=', '--processor')).toThrow(/^--processor: "words" in "ban:words=" has no value; write words=VALUE\.$/);
    expect(() => parseNamedRef('int4:group=1,group=2')).toThrow(/given twice/);
    expect(() => parseNamedRef(':x=1')).toThrow(/must look like NAME/);
    expect(parseNamedRef(' kivi : bits=2 , scales=fp32 ')).toEqual({ name: 'kivi', options: { bits: 2, scales: 'fp32' } });
    expect(parseNamedRef('x:a=-1.5e3,b=.5,c=1x,d=0x10')).toEqual({ name: 'x', options: { a: -1500, b: 0.5, c: '1x', d: '0x10' } });
    expect(parseNamedRef('temporal:')).toEqual({ name: 'temporal' });
    // Beyond a double: kept as typed, for the adapter to quote, never Infinity or a silent 0.
    expect(parseNamedRef('window:budget=1e400,ratio=1e-400,zero=0e-400,big=-1e308')).toEqual({ name: 'window', options: { budget: '1e400', ratio: '1e-400', zero: 0, big: -1e308 } });
    for (const bad of ['int4:=3', 'int4:group=', 'int4:a=1,,b=2', 'two words']) expect(() => parseNamedRef(bad, '--kv')).toThrow(/^--kv: /);
  });

  it('keeps a __proto__ key as an own option (for the adapter to reject), never as a prototype', async () => {
    const { parseNamedRef } = await import('../src/index.js');
    const ref = parseNamedRef('int4:__proto__=1,group=32');
    expect(Object.keys(ref.options ?? {})).toEqual(['__proto__', 'group']);
    expect(Object.getPrototypeOf(ref.options)).toBe(Object.prototype);
    expect(() => parseNamedRef('int4:__proto__=1,__proto__=2')).toThrow(/"__proto__" is given twice/);
  });
});
