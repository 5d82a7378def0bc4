/**
 * The conformance kit's multi-token append and `truncate` checks: every store passes them (and
 * which states it offers `truncate` in is reported), and a store with one mistake in either fails.
 */
import { describe, expect, it } from 'vitest';
import { FullPrecisionKvStore, type BackendTensor, type KvCacheInit, type KvCacheStore, type KvSelection } from '@weft/core';
import { Fp16KvStore, Int4KvStore, Int8KvStore, KiviKvStore, TemporalKvStore } from '../src/index.js';
import { checkKvStoreContract, checkMultiTokenAppend, checkTruncateContract, type ConformanceOptions } from '../src/conformance.js';
// A plain JavaScript fixture without declarations: typed by the cast below.
import { CopyKvStore as CopyKvStoreJs } from './fixtures/copy-kv-store.mjs';
import { ListKvStore } from './fixtures/list-kv-store.js';

type Copy = KvCacheStore & { retain(selection: KvSelection): void; slotPositions(): readonly (readonly number[])[] };
const CopyKvStore = CopyKvStoreJs as new () => Copy;

/** How a {@link CutCopyStore} goes wrong (nothing: a correct store). */
interface Mistakes {
  /** truncate(n) keeps n + 1 positions (n when that is all of them). */
  readonly offByOne?: boolean;
  /** truncate drops positions with retain(): the next appended slot takes the position after the old length. */
  readonly keepsNextPosition?: boolean;
  /** truncate rounds a fractional length down instead of refusing it. */
  readonly roundsLength?: boolean;
  /** truncate cuts an evicted store too. */
  readonly cutsEvicted?: boolean;
  /** A multi-token append onto a non-empty store that has evicted nothing takes one position fewer (its last). */
  readonly dropsSuffixToken?: boolean;
}

/**
 * A third party's store with `truncate`, written only against core's contract: the fixture's
 * float32 copy store, cut by beginning a new copy and appending the kept positions to it.
 */
class CutCopyStore implements KvCacheStore {
  readonly specificationVersion = 'v1';
  readonly name = 'cut-copy';
  #inner = new CopyKvStore();
  #init: KvCacheInit | undefined;
  constructor(private readonly mistakes: Mistakes = {}) {}

  get length(): number {
    return this.#inner.length;
  }
  begin(init: KvCacheInit): void {
    this.#init = init;
    this.#inner.begin(init);
  }
  materialize(): Readonly<Record<string, BackendTensor>> {
    return this.#inner.materialize();
  }
  append(presents: Readonly<Record<string, BackendTensor>>): void {
    const past = this.length;
    const total = Object.values(presents)[0]?.dims[2] ?? past;
    if (!this.mistakes.dropsSuffixToken || past === 0 || total - past < 2 || this.#evicted()) return this.#inner.append(presents);
    this.#inner.append(Object.fromEntries(Object.entries(presents).map(([name, t]) => [name, slice(t, total - 1, () => t.dispose())])));
  }
  bytes(): number {
    return this.#inner.bytes();
  }
  slotPositions(): readonly (readonly number[])[] {
    return this.#inner.slotPositions();
  }
  retain(selection: KvSelection): void {
    this.#inner.retain(selection);
  }
  truncate(length: number): void {
    if (!this.#init) throw new Error('cut-copy: truncate called before begin');
    if (!(this.mistakes.roundsLength ? length >= 1 : Number.isInteger(length)) || length < 1 || length > this.length) throw new RangeError(`cut-copy: truncate takes a whole number from 1 to ${this.length}, not ${length}`);
    if (!this.mistakes.cutsEvicted && this.#evicted()) throw new Error('cut-copy: cannot truncate a store that has evicted positions');
    const keep = this.mistakes.offByOne ? Math.min(Math.floor(length) + 1, this.length) : Math.floor(length);
    if (this.mistakes.keepsNextPosition) return this.#inner.retain({ kind: 'shared', slots: Array.from({ length: keep }, (_, i) => i) });
    const feeds = this.#inner.materialize();
    const next = new CopyKvStore();
    next.begin(this.#init);
    const names = [...this.#init.layout.presentKeyNames, ...this.#init.layout.presentValueNames];
    const past = [...this.#init.layout.pastKeyNames, ...this.#init.layout.pastValueNames];
    next.append(Object.fromEntries(names.map((name, s) => [name, slice(feeds[past[s]!]!, keep, () => {})])));
    this.#inner.dispose();
    this.#inner = next;
  }
  dispose(): void {
    this.#inner.dispose();
  }
  #evicted(): boolean {
    return this.#inner.slotPositions().some((list) => list.some((p, i) => p !== i));
  }
}

/** The first `n` positions of a [batch, heads, length, dim] float32 tensor, as a new tensor. */
function slice(t: BackendTensor, n: number, dispose: () => void): BackendTensor {
  const [b, h, length, d] = t.dims as [number, number, number, number];
  const data = new Float32Array(b * h * n * d);
  for (let r = 0; r < b * h; r++) data.set((t.data as Float32Array).subarray(r * length * d, (r * length + n) * d), r * n * d);
  return { type: 'float32', dims: [b, h, n, d], data, dispose } as BackendTensor;
}

describe('every store passes the multi-token append and truncate checks', () => {
  /** The report's line for a scenario whose store did not offer truncate. */
  const notOffered = (scenario: string) => `${scenario}: not offered (truncate is undefined)`;
  const longer = [notOffered('truncate after steps of 20, 1, 1, 17, 1 (40 positions)')];
  const cases: [string, () => KvCacheStore, ConformanceOptions, string[]][] = [
    ['core fp32', () => new FullPrecisionKvStore(), { tolerance: 0, keepsPresents: true, sharesEmptyPast: true }, []],
    ['fp16', () => new Fp16KvStore(), { tolerance: 2 ** -12 }, []],
    ['int8', () => new Int8KvStore(), { tolerance: 0.0041 }, []],
    ['int4 group 8, head_dim 12', () => new Int4KvStore({ group: 8 }), { tolerance: 0.07, headDim: 12 }, []],
    // Offered while every position is in the float32 residual (or the newest tier): not at 40 positions.
    ['kivi', () => new KiviKvStore(), { tolerance: 0.34 }, longer],
    ['kivi group 8, residual 12', () => new KiviKvStore({ group: 8, residual: 12 }), { tolerance: 0.34 }, longer],
    ['kivi fp16 residual', () => new KiviKvStore({ residualPrecision: 'fp16' }), { tolerance: 0.34 }, longer],
    ['temporal', () => new TemporalKvStore(), { tolerance: 0.075 }, []],
    ['temporal fp32=0', () => new TemporalKvStore({ fp32: 0 }), { tolerance: 0.075 }, []],
    ['temporal fp32=8,fp16=16,int8=24,rest=int2', () => new TemporalKvStore({ fp32: 8, fp16: 16, int8: 24, rest: 'int2' }), { tolerance: 0.34 }, longer],
    ['a third party\'s cut-copy store', () => new CutCopyStore(), { tolerance: 0 }, []],
  ];
  it.each(cases)('%s', (_name, create, options, skipped) => {
    expect(() => checkMultiTokenAppend(create, options)).not.toThrow();
    expect(checkTruncateContract(create, options).skipped).toEqual(skipped);
  });

  it('checkKvStoreContract runs them and reports what it skipped', () => {
    expect(checkKvStoreContract(() => new CutCopyStore(), { tolerance: 0, dropsCollectedTensors: true }).skipped).toEqual([]);
    // Without truncate (optional in core): skipped, not failed.
    expect(checkKvStoreContract(() => new CopyKvStore(), { tolerance: 0 }).skipped).toEqual([
      notOffered('truncate after steps of 3, 1, 3, 1 (8 positions)'),
      ...longer,
    ]);
    const neverEvicts = (): KvCacheStore => Object.assign(new CutCopyStore(), { retain: undefined });
    expect(checkKvStoreContract(neverEvicts, { tolerance: 0, evicts: false }).skipped).toEqual(['retain: evicts: false', 'truncate after an eviction: evicts: false']);
  });
});

describe('a truncate after an eviction (core never calls it there)', () => {
  const line = 'truncate after retain evicted position 2: truncate(1) accepted, not checked (core calls truncate only on a store that has evicted nothing)';
  // A store that cuts without looking for evictions meets core's contract: the kit used to reject
  // it ("truncate(1) was accepted"); it now reports the check skipped.
  it.each([
    ['the cut-copy store cutting evicted stores too', () => new CutCopyStore({ cutsEvicted: true })],
    ['a list store whose truncate does not look for evictions', () => new ListKvStore()],
  ] as [string, () => KvCacheStore][])('%s passes, the check reported skipped', (_name, create) => {
    expect(checkTruncateContract(create, { tolerance: 0 }).skipped).toEqual([line]);
    expect(checkKvStoreContract(create, { tolerance: 0, dropsCollectedTensors: true }).skipped).toEqual([line]);
  });
});

describe('the kit rejects a store with one mistake', () => {
  const cases: [string, Mistakes, RegExp][] = [
    ['an off-by-one truncate', { offByOne: true }, /truncate\(1\) after steps of 3, 1, 3, 1, after an append: length/],
    ['a truncate that does not reset the next position', { keepsNextPosition: true }, /truncate\(1\) after steps of 3, 1, 3, 1, after an append, then a suffix of 3 positions, against a store fed only the first 1 and the same suffix: slotPositions\(\)/],
    ['a truncate that rounds a fractional length', { roundsLength: true }, /truncate out of range after steps of 3, 1, 3, 1: truncate\(1\.5\) was accepted/],
    ['a multi-token append onto a non-empty store that drops a token', { dropsSuffixToken: true }, /a suffix of 65 positions appended after steps of 6 and 1, against one prefill of the 72 positions: length/],
  ];
  it.each(cases)('%s', (_name, mistakes, message) => {
    expect(() => checkKvStoreContract(() => new CutCopyStore(mistakes), { tolerance: 0 })).toThrow(message);
  });

  it('a truncate after an eviction that throws and changes the store', () => {
    class CutsEvictedThenThrows extends CutCopyStore {
      constructor() {
        super({ cutsEvicted: true });
      }
      override truncate(length: number): void {
        const evicted = this.slotPositions().some((list) => list.some((p, i) => p !== i));
        super.truncate(length);
        if (evicted) throw new Error('cut-copy: evicted');
      }
    }
    expect(() => checkKvStoreContract(() => new CutsEvictedThenThrows(), { tolerance: 0 })).toThrow(/truncate after retain evicted position 2: truncate\(1\) threw and left the store changed: length/);
  });

  it('a truncate that throws after cutting (a refused call that changed the store)', () => {
    class CutsThenThrows extends CutCopyStore {
      override truncate(length: number): void {
        super.truncate(Math.max(1, Math.min(Math.floor(length), this.length)));
        if (!Number.isInteger(length) || length < 1 || length > this.length) throw new RangeError(`cut-copy: ${length} is out of range`);
      }
    }
    expect(() => checkKvStoreContract(() => new CutsThenThrows(), { tolerance: 0 })).toThrow(/truncate out of range after steps of 3, 1, 3, 1: truncate\(0\) threw and left the store changed: length/);
  });
});
