/**
 * The conformance checks of what a prompt cache asks of a store (`@weft/plugin-kv/conformance`
 * exports them): a multi-token append onto a non-empty store, and an exact `truncate`.
 */
import assert from 'node:assert/strict';
import type { BackendTensor, KvCacheStore, KvLayout } from '@weft/core';
import { checkHeld, fakeLayout, fakeSession, fakeTensor, type ConformanceOptions, type ConformanceReport, type FakeTensor } from './conformance-support.js';

/** A value in [−1, 1) for (branch, stream, row, position, channel): the same wherever it is asked for. */
function tokenValue(seed: number, branch: number, s: number, r: number, position: number, c: number): number {
  let x = Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(branch + 3, 0x85ebca6b) ^ Math.imul(s + 5, 0xc2b2ae35) ^ Math.imul(r + 7, 0x27d4eb2f) ^ Math.imul(position + 11, 0x165667b1) ^ Math.imul(c + 13, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x2c1b3c6d);
  x ^= x >>> 12;
  x = Math.imul(x, 0x297a2d39);
  x ^= x >>> 15;
  return ((x >>> 0) / 2 ** 32) * 2 - 1;
}

/** Everything a caller sees of a store: length, slot positions, bytes and the fed past (copied). */
interface Observed {
  readonly length: number;
  readonly positions: number[][] | undefined;
  readonly bytes: number;
  readonly feeds: ReadonlyMap<string, { readonly type: string; readonly dims: readonly number[]; readonly data: Float32Array }>;
}

/**
 * A store begun on its own fake session (float32 layout of the options' shape) and fed model-like
 * steps: each present is the past as fed, then the new positions' values for a branch of the
 * conversation (positions hold the same values in every run fed the same branch).
 */
class ScriptedRun {
  readonly session = fakeSession();
  readonly presents: FakeTensor[] = [];
  readonly pastNames: string[];
  private readonly presentNames: string[];
  /** Positions appended since begin (the position of the next one, unless cut back). */
  next = 0;
  /** Tensors `materialize()` returned since the last change (begin, append, retain, truncate). */
  private handedOut = new Set<BackendTensor>();
  /** With `keepsPresents`: the last append's presents, which the store may keep. */
  private kept: readonly FakeTensor[] = [];
  /** The last change, for messages. */
  private lastChange = 'begin';

  constructor(
    readonly store: KvCacheStore,
    private readonly shape: { readonly B: number; readonly H: number; readonly D: number; readonly layout: KvLayout; readonly seed: number; readonly keepsPresents?: boolean | undefined; readonly sharesEmptyPast?: boolean | undefined },
  ) {
    this.pastNames = [...shape.layout.pastKeyNames, ...shape.layout.pastValueNames];
    this.presentNames = [...shape.layout.presentKeyNames, ...shape.layout.presentValueNames];
    store.begin({ layout: shape.layout, batchSize: shape.B, session: this.session.session });
  }

  /** One step: materialize, then append `count` new positions of `branch`. */
  append(count: number, branch: number): this {
    const { B, H, D, seed } = this.shape;
    const feeds = this.feeds();
    const n = this.store.length;
    const presents: Record<string, FakeTensor> = {};
    this.presentNames.forEach((name, s) => {
      const past = feeds[this.pastNames[s]!]!.data as Float32Array;
      const data = new Float32Array(B * H * (n + count) * D);
      for (let r = 0; r < B * H; r++) {
        data.set(past.subarray(r * n * D, (r + 1) * n * D), r * (n + count) * D);
        for (let j = 0; j < count; j++) for (let c = 0; c < D; c++) data[(r * (n + count) + n + j) * D + c] = tokenValue(seed, branch, s, r, this.next + j, c);
      }
      const t = fakeTensor('float32', data, [B, H, n + count, D]);
      presents[name] = t;
      this.presents.push(t);
    });
    this.store.append(presents);
    this.changed(`the append of ${count} position${count === 1 ? '' : 's'} onto ${n}`, Object.values(presents));
    this.next += count;
    return this;
  }

  /**
   * Records a change to the store (`what`, for messages): what `materialize()` returned before is
   * no longer the store's to keep, and with `keepsPresents` it may keep `presents`.
   */
  changed(what: string, presents: readonly FakeTensor[] = []): void {
    this.handedOut = new Set();
    this.kept = this.shape.keepsPresents ? presents : [];
    this.lastChange = what;
  }

  /** `materialize()`, then {@link checkHeld}: every other tensor the store made or was given this run is disposed. */
  private feeds(): Readonly<Record<string, BackendTensor>> {
    const feeds = this.store.materialize();
    for (const t of Object.values(feeds)) this.handedOut.add(t);
    const owned = this.session.created.filter((t) => !(this.shape.sharesEmptyPast && t.data.length === 0));
    checkHeld([...owned, ...this.presents], this.handedOut, this.kept, `after ${this.lastChange} (${this.store.length} positions)`);
    return feeds;
  }

  steps(counts: readonly number[], branch = 0): this {
    for (const count of counts) this.append(count, branch);
    return this;
  }

  observe(): Observed {
    const feeds = this.feeds();
    return {
      length: this.store.length,
      positions: this.store.slotPositions?.().map((list) => [...list]),
      bytes: this.store.bytes(),
      feeds: new Map(this.pastNames.map((name) => [name, { type: feeds[name]?.type ?? 'missing', dims: [...(feeds[name]?.dims ?? [])], data: (feeds[name]?.data as Float32Array | undefined)?.slice() ?? new Float32Array(0) }])),
    };
  }

  /** Disposes the store and checks that it disposed every tensor it made or was given. */
  dispose(when: string, sharesEmptyPast: boolean | undefined): void {
    this.store.dispose();
    assert.equal(this.store.length, 0, `${when}: length after dispose`);
    for (const t of this.session.created) if (!(sharesEmptyPast && t.data.length === 0)) assert.ok(t.disposed, `${when}: dispose() left a tensor it created undisposed`);
    for (const t of this.presents) assert.ok(t.disposed, `${when}: a present tensor was never disposed`);
  }
}

/** Asserts that two observations agree: length, slot positions and fed values (within `tolerance`, bit for bit at 0). */
function sameObserved(got: Observed, want: Observed, tolerance: number, when: string): void {
  assert.equal(got.length, want.length, `${when}: length`);
  assert.deepEqual(got.positions, want.positions, `${when}: slotPositions()`);
  for (const [name, w] of want.feeds) {
    const g = got.feeds.get(name)!;
    assert.equal(g.type, w.type, `${when}: ${name} type`);
    assert.deepEqual(g.dims, w.dims, `${when}: ${name} dims`);
    for (let i = 0; i < w.data.length; i++) {
      const [a, b] = [g.data[i]!, w.data[i]!];
      const same = tolerance === 0 ? Object.is(a, b) : Math.abs(a - b) <= tolerance;
      assert.ok(same, `${when}: ${name}[${i}] is ${a}, ${b} expected${tolerance === 0 ? '' : ` (tolerance ${tolerance})`}`);
    }
  }
}

/** `counts` cut to their first `n` positions (the last step kept shortened). */
function firstPositions(counts: readonly number[], n: number): number[] {
  const out: number[] = [];
  let left = n;
  for (const count of counts) {
    if (left <= 0) break;
    out.push(Math.min(count, left));
    left -= count;
  }
  return out;
}

function scriptShape(options: Omit<ConformanceOptions, 'tolerance'>, salt: number) {
  const H = options.numKvHeads ?? 2;
  const D = options.headDim ?? 16;
  return { B: options.batchSize ?? 2, H, D, layout: fakeLayout(options.numLayers ?? 2, H, D), seed: (options.seed ?? 7) + salt, keepsPresents: options.keepsPresents, sharesEmptyPast: options.sharesEmptyPast };
}

/**
 * A multi-token append onto a non-empty store, as a prompt cache appends a new prompt's suffix to a
 * kept conversation (presents of past + seq positions, seq > 1, after earlier steps): 72 positions
 * fed as a prefill, a decode step and a suffix (of 65, 31 and 11 positions), then a decode step,
 * must feed what one prefill of the 72 positions and the same decode step feed (within `tolerance`;
 * bit for bit at 0), with the same length and slot positions. Also run by {@link checkKvStoreContract}.
 */
export function checkMultiTokenAppend(create: () => KvCacheStore, options: ConformanceOptions): void {
  const shape = scriptShape(options, 4);
  const whole = new ScriptedRun(create(), shape).steps([72]);
  const afterPrefill = whole.observe();
  whole.append(1, 0);
  const afterDecode = whole.observe();
  whole.dispose('one prefill of 72 positions', options.sharesEmptyPast);
  for (const split of [[6, 1, 65], [40, 1, 31], [60, 1, 11]]) {
    const label = `a suffix of ${split[2]} positions appended after steps of ${split[0]} and ${split[1]}`;
    const run = new ScriptedRun(create(), shape).steps(split);
    sameObserved(run.observe(), afterPrefill, options.tolerance, `${label}, against one prefill of the 72 positions`);
    run.append(1, 0);
    sameObserved(run.observe(), afterDecode, options.tolerance, `${label}, then a decode step, against one prefill and the same step`);
    run.dispose(label, options.sharesEmptyPast);
  }
}

/**
 * `KvCacheStore.truncate`, wherever the store offers it (it is optional, and read each time, as
 * core's prompt cache reads it; where it is undefined the check is reported skipped):
 * - after steps of 3, 1, 3 and 1 positions (a multi-token append onto a non-empty store among them),
 *   and after 20, 1, 1, 17 and 1, cut right after an append or after a materialize to 1 position, a
 *   middle one and the whole length: the store then has that length, slot positions 0..n−1,
 *   `bytes()` no larger than before, and feeds bit for bit what a new store fed only the first n
 *   positions in the same steps feeds; a suffix of 3 positions of another branch and a decode step
 *   then give both the same (length, slot positions, values);
 * - `truncate(0)`, `truncate(length + 1)` and `truncate(1.5)` throw and change nothing (length, slot
 *   positions, bytes, fed values; the next step as on a store never asked);
 * - on a store that has evicted a position (`retain`, unless `evicts: false`), where core never
 *   calls it: a truncate that throws must change nothing; one that is accepted is reported skipped
 *   (`truncate after retain evicted position 2: truncate(1) accepted, not checked (…)`), not failed.
 * Every store is then disposed and must have disposed every tensor, and after each append and
 * truncate it must have disposed every tensor it replaced (see {@link checkKvStoreContract}).
 * Also run by {@link checkKvStoreContract}.
 */
export function checkTruncateContract(create: () => KvCacheStore, options: ConformanceOptions): ConformanceReport {
  const shape = scriptShape(options, 5);
  const skipped = new Set<string>();
  const sharesEmptyPast = options.sharesEmptyPast;
  /**
   * The store's truncate right now, or undefined where it has none: reported skipped as `state`
   * (not after an eviction, where not offering it is as good as refusing it).
   */
  const offered = (run: ScriptedRun, what: string, state?: string): ((length: number) => void) | undefined => {
    const truncate: unknown = run.store.truncate;
    if (truncate === undefined || truncate === null) {
      if (state) skipped.add(`${state}: not offered (truncate is ${String(truncate)})`);
      return undefined;
    }
    assert.equal(typeof truncate, 'function', `${what}: truncate is a ${typeof truncate}, not a method`);
    return (length) => (truncate as (length: number) => void).call(run.store, length);
  };
  /** A call that must throw and leave everything as it was. */
  const refused = (run: ScriptedRun, cut: (length: number) => void, length: number, when: string): void => {
    const before = run.observe();
    assert.throws(() => cut(length), () => true, `${when}: truncate(${length}) was accepted (the length must be a whole number from 1 to ${before.length})`);
    run.changed(`a refused truncate(${length})`);
    const after = run.observe();
    sameObserved(after, before, 0, `${when}: truncate(${length}) threw and left the store changed`);
    assert.equal(after.bytes, before.bytes, `${when}: truncate(${length}) threw and left bytes() changed`);
  };
  const identity = (n: number) => Array.from({ length: shape.H }, () => Array.from({ length: n }, (_, i) => i));

  for (const [steps, cuts] of [
    [[3, 1, 3, 1], [1, 5, 8]],
    [[20, 1, 1, 17, 1], [1, 21, 30, 40]],
  ] as const) {
    const total = steps.reduce((a, b) => a + b, 0);
    const state = `truncate after steps of ${steps.join(', ')} (${total} positions)`;
    for (const n of cuts) {
      for (const timing of ['after an append', 'after a materialize'] as const) {
        const label = `truncate(${n}) after steps of ${steps.join(', ')}, ${timing}`;
        const run = new ScriptedRun(create(), shape).steps(steps);
        if (timing === 'after a materialize') run.store.materialize();
        const cut = offered(run, label, state);
        if (!cut) {
          run.dispose(label, sharesEmptyPast);
          continue;
        }
        const bytes = run.store.bytes();
        cut(n);
        run.changed(`truncate(${n})`);
        assert.equal(run.store.length, n, `${label}: length`);
        const positions = run.store.slotPositions?.();
        if (positions) assert.deepEqual(positions.map((list) => [...list]), identity(n), `${label}: slotPositions() must be 0..${n - 1}`);
        assert.ok(run.store.bytes() <= bytes, `${label}: bytes() grew (${bytes} → ${run.store.bytes()})`);
        run.next = n;
        const fresh = new ScriptedRun(create(), shape).steps(firstPositions(steps, n));
        sameObserved(run.observe(), fresh.observe(), 0, `${label}, against a store fed only the first ${n} positions`);
        // The next prompt's suffix (another branch) and a decode step: positions go on from n.
        run.append(3, 1);
        fresh.append(3, 1);
        sameObserved(run.observe(), fresh.observe(), 0, `${label}, then a suffix of 3 positions, against a store fed only the first ${n} and the same suffix`);
        run.append(1, 1);
        fresh.append(1, 1);
        sameObserved(run.observe(), fresh.observe(), 0, `${label}, then a suffix and a decode step, against a store fed the same`);
        if (positions) assert.deepEqual(run.store.slotPositions!().map((list) => [...list]), identity(n + 4), `${label}, then a suffix and a decode step: slotPositions()`);
        run.dispose(label, sharesEmptyPast);
        fresh.dispose(`${label} (the store fed only the first ${n})`, sharesEmptyPast);
      }
    }
    // Lengths out of range: refused, nothing changed, and the store goes on as one never asked.
    const label = `truncate out of range after steps of ${steps.join(', ')}`;
    const run = new ScriptedRun(create(), shape).steps(steps);
    for (const n of [0, total + 1, 1.5]) {
      const cut = offered(run, `${label}, truncate(${n})`, state);
      if (cut) refused(run, cut, n, label);
    }
    const asked = run.append(2, 1).observe();
    const never = new ScriptedRun(create(), shape).steps(steps).append(2, 1);
    sameObserved(asked, never.observe(), 0, `${label}: after the refused calls, a step against a store never asked to truncate`);
    run.dispose(`${label} (disposing after the refused calls)`, sharesEmptyPast);
    never.dispose(`${label} (the store never asked)`, sharesEmptyPast);
  }

  if (options.evicts === false) {
    skipped.add('truncate after an eviction: evicts: false');
    return { skipped: [...skipped] };
  }
  // A store that evicted a position (slot 2 of 8; the newest kept, as routers do). Core never calls
  // truncate there (its contract: "only on a store that has evicted nothing"), so what a store does
  // is its own affair: a refusal must change nothing (the store goes on), and an accepted cut is
  // reported skipped, unchecked.
  const label = 'truncate after retain evicted position 2';
  const run = new ScriptedRun(create(), shape).steps([6, 1, 1]);
  assert.ok(run.store.retain, 'the store has no retain(); a store without it passes { evicts: false }');
  run.store.retain({ kind: 'shared', slots: [0, 1, 3, 4, 5, 6, 7] });
  run.changed('retain');
  for (const n of [1, 2, 6, 7]) {
    const cut = offered(run, `${label}, truncate(${n})`);
    if (!cut) continue;
    const before = run.observe();
    let accepted = true;
    try {
      cut(n);
    } catch {
      accepted = false;
    }
    run.changed(`truncate(${n}) after an eviction`);
    if (accepted) {
      skipped.add(`${label}: truncate(${n}) accepted, not checked (core calls truncate only on a store that has evicted nothing)`);
      run.dispose(`${label}, after the accepted truncate(${n})`, sharesEmptyPast);
      return { skipped: [...skipped] };
    }
    sameObserved(run.observe(), before, 0, `${label}: truncate(${n}) threw and left the store changed`);
    assert.equal(run.store.bytes(), before.bytes, `${label}: truncate(${n}) threw and left bytes() changed`);
  }
  run.append(1, 0);
  assert.equal(run.store.length, 8, `${label}: length after a step that follows the refused calls`);
  run.dispose(label, sharesEmptyPast);
  return { skipped: [...skipped] };
}
