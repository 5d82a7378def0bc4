/**
 * `@weft/plugin-kv/conformance`: contract checks for any `KvCacheStore`, runnable without a model.
 * A scripted run of prefill, decode steps, shared and per-head eviction, batch 2, a left-padded row
 * and reuse (with another batch size) against a fake session, checking shapes, values (within a tolerance), slot positions, byte accounting,
 * tensor ownership and disposal (each tensor the store replaces is disposed by the next
 * `materialize()` after the change, not only at `dispose()`), that a refused append (a malformed present, or a value beyond
 * fp16's range the store cannot hold) leaves the store as it was, that a multi-token append onto a
 * non-empty store equals one prefill, and, where the store offers `truncate`, that a cut is exact
 * and a refused one changes nothing. Framework-free (it throws node:assert's `AssertionError`), so a
 * store in any package can prove the same contract from its own test runner:
 *
 * @example
 * import { checkKvStoreContract } from '@weft/plugin-kv/conformance';
 * it('meets the KvCacheStore contract', () => checkKvStoreContract(() => new MyKvStore(), { tolerance: 0, dropsCollectedTensors: true }));
 *
 * A Node.js module (it imports `node:assert/strict`): it is a separate entry point, not part of
 * `@weft/plugin-kv`'s main one, which stays free of Node.js built-ins.
 */
import assert from 'node:assert/strict';
import { encodeFp16 } from './quant/fp16.js';
import { seededRandom, tensorFloat32, type BackendTensor, type KvCacheStore, type KvSelection } from '@weft/core';

import { checkHeld, fakeLayout, fakeSession, fakeTensor, type ConformanceOptions, type ConformanceReport, type FakeTensor } from './conformance-support.js';
import { checkMultiTokenAppend, checkTruncateContract } from './conformance-prompt-cache.js';

export { fakeLayout, fakeSession, fakeTensor, type ConformanceOptions, type ConformanceReport, type FakeTensor } from './conformance-support.js';
export { checkMultiTokenAppend, checkTruncateContract } from './conformance-prompt-cache.js';

/**
 * Runs the contract scenario; throws an `AssertionError` naming the first violation. Returns what
 * it skipped: eviction with `evicts: false`, and `truncate` checks in states where the store does
 * not offer it (`truncate` is optional, and may be offered only in some states).
 */
export function checkKvStoreContract(create: () => KvCacheStore, options: ConformanceOptions): ConformanceReport {
  const skipped: string[] = [];
  if (options.evicts === false) skipped.push('retain: evicts: false');
  /** Batch size of the current run (a later run on the same instance takes one more row). */
  let B = options.batchSize ?? 2;
  const L = options.numLayers ?? 2;
  const H = options.numKvHeads ?? 2;
  const D = options.headDim ?? 16;
  const tol = options.tolerance;
  const layout = fakeLayout(L, H, D);
  const random = seededRandom(options.seed ?? 7);
  const { session, created } = fakeSession();
  const presentsGiven: FakeTensor[] = [];
  const pastNames = [...layout.pastKeyNames, ...layout.pastValueNames];
  const presentNames = [...layout.presentKeyNames, ...layout.presentValueNames];
  /** truth[stream][b*H + h][position] = the token's values. */
  let truth: Float32Array[][][] = pastNames.map(() => Array.from({ length: B * H }, () => []));
  /** Expected absolute position of each slot, per head. */
  let expected: number[][] = [];
  let nextPosition = 0;
  /** The run's session declares its tensors garbage-collected: nothing may be disposed. */
  let collected = false;
  /** The current run's session: what it created, for the held-tensor check. */
  let runCreated: FakeTensor[] = created;
  /** Presents given in the current run. */
  let runPresents: FakeTensor[] = [];
  /** Tensors `materialize()` returned since the last change (begin, append, retain). */
  let handedOut = new Set<BackendTensor>();
  /** With `keepsPresents`: the presents of the last append, which the store may keep. */
  let kept: readonly FakeTensor[] = [];
  /** Tensors the store may hold undisposed: not the shared empty past of a `sharesEmptyPast` store. */
  const owned = (t: FakeTensor): boolean => !(options.sharesEmptyPast && t.data.length === 0);
  /** A change: what `materialize()` returned before it is no longer the store's to keep. */
  const changed = (presents: readonly FakeTensor[] = []): void => {
    handedOut = new Set();
    kept = options.keepsPresents ? presents : [];
  };
  /** `store.materialize()`, recording what it hands out. */
  const materialize = (): Readonly<Record<string, BackendTensor>> => {
    const feeds = store.materialize();
    for (const t of Object.values(feeds)) handedOut.add(t);
    return feeds;
  };

  const store = create();
  assert.equal(store.specificationVersion, 'v1');
  assert.equal(typeof store.name, 'string');
  assert.ok(store.name.length > 0, 'the store needs a name');
  store.dispose(); // before begin: must be harmless
  if (store.float16Cache === true) checkFloat16CacheContract(create, options);

  const snapshot = (feeds: Readonly<Record<string, BackendTensor>>): Map<string, Float32Array> =>
    new Map(Object.entries(feeds).map(([k, t]) => [k, (t.data as Float32Array).slice()]));
  const sameAs = (feeds: Readonly<Record<string, BackendTensor>>, snap: Map<string, Float32Array>, when: string): void => {
    for (const [k, data] of snap) {
      const t = feeds[k]!;
      assert.ok(!(t as Partial<FakeTensor>).disposed, `${when}: ${k} was disposed before the next append`);
      assert.deepEqual(t.data as Float32Array, data, `${when}: ${k} changed before the next append`);
    }
  };

  const checkFeeds = (when: string): Record<string, BackendTensor> => {
    const feeds = materialize();
    if (!collected) checkHeld([...runCreated.filter(owned), ...runPresents], handedOut, kept, when);
    const n = expected[0]!.length;
    // The reads first, so that one which disturbs the fed tensors is caught here, by name.
    const before = snapshot(feeds);
    assert.equal(store.length, n, `${when}: length`);
    const positions = store.slotPositions?.();
    if (positions) {
      assert.equal(positions.length, H, `${when}: slotPositions() has one list per head`);
      positions.forEach((list, h) => assert.deepEqual([...list], expected[h], `${when}: slotPositions() of head ${h}`));
    } else {
      assert.ok(expected.every((list) => list.every((p, i) => p === i)), `${when}: a store without slotPositions() must not evict`);
    }
    sameAs(feeds, before, `${when} (reading length and slotPositions())`);
    for (let s = 0; s < pastNames.length; s++) {
      const name = pastNames[s]!;
      const t = feeds[name];
      assert.ok(t, `${when}: materialize() has no ${name}`);
      assert.equal(t.type, 'float32', `${when}: ${name} type`);
      assert.deepEqual([...t.dims], [B, H, n, D], `${when}: ${name} dims`);
      const data = t.data as Float32Array;
      assert.equal(data.length, B * H * n * D, `${when}: ${name} data length`);
      let worst = 0;
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < H; h++) {
          for (let slot = 0; slot < n; slot++) {
            const want = truth[s]![b * H + h]![expected[h]![slot]!]!;
            const at = ((b * H + h) * n + slot) * D;
            for (let c = 0; c < D; c++) worst = Math.max(worst, Math.abs(data[at + c]! - want[c]!));
          }
        }
      }
      assert.ok(worst <= tol, `${when}: ${name} is off by ${worst} (tolerance ${tol})`);
    }
    return { ...feeds };
  };

  /** One step: materialize, a model-like present (past as fed + `count` new tokens), append. */
  const step = (count: number, when: string): void => {
    const feeds = checkFeeds(when);
    const snap = snapshot(feeds);
    // Reading the store again must not disturb the tensors the model holds.
    sameAs({ ...materialize() }, snap, `${when} (second materialize)`);
    void store.slotPositions?.();
    void store.length;
    sameAs(feeds, snap, `${when} (after reads)`);
    const n = expected[0]!.length;
    const presents: Record<string, FakeTensor> = {};
    for (let s = 0; s < pastNames.length; s++) {
      const past = feeds[pastNames[s]!]!.data as Float32Array;
      const data = new Float32Array(B * H * (n + count) * D);
      for (let r = 0; r < B * H; r++) {
        data.set(past.subarray(r * n * D, (r + 1) * n * D), r * (n + count) * D);
        for (let j = 0; j < count; j++) {
          const token = new Float32Array(D);
          for (let c = 0; c < D; c++) token[c] = random() * 2 - 1;
          truth[s]![r]![nextPosition + j] = token;
          data.set(token, (r * (n + count) + n + j) * D);
        }
      }
      const t = fakeTensor('float32', data, [B, H, n + count, D]);
      presents[presentNames[s]!] = t;
      presentsGiven.push(t);
      runPresents.push(t);
    }
    sameAs(feeds, snap, `${when} (until append)`);
    store.append(presents);
    changed(Object.values(presents));
    for (const list of expected) for (let j = 0; j < count; j++) list.push(nextPosition + j);
    nextPosition += count;
    if (collected) {
      for (const [name, t] of Object.entries(presents)) assert.ok(!t.disposed, `${when}: append() disposed ${name} on a session whose tensors are garbage-collected`);
    } else if (!options.keepsPresents) {
      for (const [name, t] of Object.entries(presents)) {
        assert.ok(t.disposed, `${when}: append() kept ${name} (it must read and dispose it)`);
        // A backend may reuse a disposed tensor's memory: nothing may still read it.
        (t.data as Float32Array).fill(Number.NaN);
      }
    }
    assert.equal(store.length, n + count, `${when}: length after append`);
    const full = L * 2 * B * H * (n + count) * D * 4;
    assert.ok(store.bytes() > 0, `${when}: bytes() must count the cached tokens`);
    assert.ok(store.bytes() <= full * (options.maxBytesRatio ?? 1), `${when}: bytes() ${store.bytes()} exceeds ${options.maxBytesRatio ?? 1}× a float32 cache (${full})`);
  };

  const retain = (selection: KvSelection, when: string): void => {
    if (options.evicts === false) return;
    assert.ok(store.retain, 'the store has no retain(), so it cannot be combined with evicting routers; a store meant to be so passes { evicts: false }');
    checkFeeds(`${when} (before)`);
    const before = store.bytes();
    // The store gets its own copy: the expected slots come from the kit's, and the store must
    // leave the router's selection as it was given (the caller may still use it).
    const given: KvSelection = selection.kind === 'shared' ? { kind: 'shared', slots: [...selection.slots] } : { kind: 'per-head', slots: selection.slots.map((l) => [...l]) };
    store.retain(given);
    changed();
    assert.deepEqual(given, selection, `${when}: retain() modified the selection it was given`);
    expected = expected.map((list, h) => (selection.kind === 'shared' ? selection.slots : selection.slots[h]!).map((slot) => list[slot]!));
    assert.ok(store.bytes() < before, `${when}: bytes() must shrink when slots are evicted (${before} → ${store.bytes()})`);
    checkFeeds(`${when} (after)`);
  };

  /**
   * An append whose presents do not fit (the last value present one head short) must throw and
   * leave the store as it was: same length, positions and fed values, no layer half-appended.
   */
  const refusedAppend = (when: string): void => {
    const feeds = checkFeeds(`${when} (before)`);
    const n = expected[0]!.length;
    const presents: Record<string, FakeTensor> = {};
    for (let s = 0; s < pastNames.length; s++) {
      const heads = s === pastNames.length - 1 ? H - 1 : H;
      const past = feeds[pastNames[s]!]!.data as Float32Array;
      const data = new Float32Array(B * heads * (n + 1) * D).fill(99);
      for (let r = 0; r < B * heads; r++) data.set(past.subarray(r * n * D, (r + 1) * n * D), r * (n + 1) * D);
      presents[presentNames[s]!] = fakeTensor('float32', data, [B, heads, n + 1, D]);
    }
    assert.throws(() => store.append(presents), () => true, `${when}: append() accepted a ${presentNames[presentNames.length - 1]} of dims [${B}, ${H - 1}, ${n + 1}, ${D}] (the layout has ${H} heads)`);
    changed();
    checkFeeds(`${when} (after)`);
  };

  store.begin({ layout, batchSize: B, session });
  expected = Array.from({ length: H }, () => []);
  assert.equal(store.length, 0, 'length after begin');
  checkFeeds('after begin');
  step(45, 'prefill');
  for (let i = 0; i < 20; i++) step(1, `decode ${i}`);
  refusedAppend('append of a present with a head missing');
  step(1, 'decode after the refused append');
  // Shared eviction: drop the first 10 slots and every fourth one after. Every selection keeps the
  // newest slot, as routers do (what position follows an evicted newest slot is not specified).
  const n1 = store.length;
  retain({ kind: 'shared', slots: Array.from({ length: n1 }, (_, i) => i).filter((i) => i >= 10 && (i % 4 !== 0 || i === n1 - 1)) }, 'shared retain');
  for (let i = 0; i < 10; i++) step(1, `decode after shared retain ${i}`);
  // Per-head eviction: each head drops a different third of its slots (equal counts).
  const n2 = store.length;
  const perHead = Array.from({ length: H }, (_, h) => Array.from({ length: n2 }, (_, i) => i).filter((i) => (i + h) % 3 !== 0 || i === n2 - 1));
  const keepCount = Math.min(...perHead.map((l) => l.length));
  retain({ kind: 'per-head', slots: perHead.map((l) => l.slice(l.length - keepCount)) }, 'per-head retain');
  if (H > 1 && options.evicts !== false) {
    const p = store.slotPositions?.();
    if (p) assert.notDeepEqual([...p[0]!], [...p[1]!], 'per-head retain: heads should hold different positions');
  }
  for (let i = 0; i < 40; i++) step(1, `decode after per-head retain ${i}`);
  step(7, 'chunk of 7 after per-head retain');
  retain({ kind: 'shared', slots: Array.from({ length: 16 }, (_, i) => store.length - 16 + i) }, 'window retain');
  for (let i = 0; i < 5; i++) step(1, `decode after window ${i}`);
  checkFeeds('end');

  store.dispose();
  assert.equal(store.length, 0, 'length after dispose');
  assert.equal(store.bytes(), 0, 'bytes() after dispose');
  for (const t of created.filter(owned)) assert.ok(t.disposed, 'dispose() left a tensor it created undisposed');
  for (const t of presentsGiven) assert.ok(t.disposed, 'a present tensor was never disposed');
  store.dispose(); // idempotent

  /**
   * Begins the same instance again on a new session (garbage-collected or not; `padding` as
   * `KvCacheInit.padding`; `batch` rows), prefills 5 tokens, decodes one, then `more()`, checks the
   * feeds and disposes. Returns the session's tensors and the presents given during the run.
   */
  const rerun = (label: string, garbageCollected: boolean, more: () => void = () => {}, padding?: readonly number[], batch = options.batchSize ?? 2) => {
    const run = fakeSession(garbageCollected);
    B = batch;
    truth = pastNames.map(() => Array.from({ length: B * H }, () => []));
    const givenBefore = presentsGiven.length;
    collected = garbageCollected;
    runCreated = run.created;
    runPresents = [];
    changed();
    store.begin(padding ? { layout, batchSize: B, session: run.session, padding } : { layout, batchSize: B, session: run.session });
    expected = Array.from({ length: H }, () => []);
    nextPosition = 0;
    checkFeeds(`${label}, after begin`);
    step(5, `${label} prefill`);
    step(1, `${label} decode`);
    more();
    checkFeeds(`${label} end`);
    store.dispose();
    return { created: run.created, given: presentsGiven.slice(givenBefore) };
  };

  // The same instance runs again after begin, with one more batch row (a pooled store serves
  // requests of any batch size).
  const again = rerun('second run (one more batch row)', false, () => {}, undefined, (options.batchSize ?? 2) + 1);
  for (const t of again.created.filter(owned)) assert.ok(t.disposed, 'second run: dispose() left a tensor undisposed');

  // A batch whose first row is left-padded (`KvCacheInit.padding`: its first 4 slots are pad
  // tokens): the same contract, pad slots included, through decode steps and an eviction that
  // drops some pads and some real tokens.
  const padded = rerun(
    'padded run',
    false,
    () => {
      for (let i = 0; i < 40; i++) step(1, `padded run decode ${i}`);
      const n = store.length;
      retain({ kind: 'shared', slots: Array.from({ length: n }, (_, i) => i).filter((i) => i !== 1 && i !== 2 && (i % 5 !== 4 || i === n - 1)) }, 'padded run retain');
      for (let i = 0; i < 5; i++) step(1, `padded run decode after retain ${i}`);
    },
    Array.from({ length: options.batchSize ?? 2 }, (_, b) => (b === 0 ? 4 : 0)),
  );
  for (const t of padded.created.filter(owned)) assert.ok(t.disposed, 'padded run: dispose() left a tensor undisposed');
  for (const t of padded.given) assert.ok(t.disposed, 'padded run: a present tensor was never disposed');

  checkRefusedValues(create, options);
  checkMultiTokenAppend(create, options);
  skipped.push(...checkTruncateContract(create, options).skipped);

  if (!options.dropsCollectedTensors) return { skipped };
  // A third run on a session whose tensors are garbage-collected: same values, nothing disposed.
  const gc = rerun('garbage-collected run', true, () => {
    retain({ kind: 'shared', slots: [1, 2, 3, 4, 5] }, 'garbage-collected run retain');
    step(1, 'garbage-collected run decode after retain');
  });
  for (const t of [...gc.created, ...gc.given]) assert.ok(!t.disposed, 'garbage-collected run: a tensor was disposed');

  // A fourth run on an ordinary session again: the store must not stay in its dropping mode.
  const plain = rerun('run after the garbage-collected one', false);
  for (const t of plain.created.filter(owned)) assert.ok(t.disposed, 'run after the garbage-collected one: dispose() left a tensor undisposed');
  for (const t of plain.given) assert.ok(t.disposed, 'run after the garbage-collected one: a present tensor was never disposed');
  return { skipped };
}

/**
 * Values beyond fp16's range (−1e6, then 1e6) in one batch row and head of the last layer's keys,
 * then of its values, each on a new instance: a store may hold them, or refuse them (fp16 storage,
 * fp16 scales) in the append that brings them or in a later one (a tier that moves tokens to a
 * lower precision). An append that throws must leave the store as it was: length, slot positions,
 * `bytes()` and every fed value. After that, an append of values in [−1, 1] must work: at once when
 * the refused append brought the value (the store then feeds the values it was given, within the
 * tolerance), after an eviction of the value's slot when a later append was refused.
 */
function checkRefusedValues(create: () => KvCacheStore, options: ConformanceOptions): void {
  const B = options.batchSize ?? 2;
  const L = options.numLayers ?? 2;
  const H = options.numKvHeads ?? 2;
  const D = options.headDim ?? 16;
  const layout = fakeLayout(L, H, D);
  const pastNames = [...layout.pastKeyNames, ...layout.pastValueNames];
  const presentNames = [...layout.presentKeyNames, ...layout.presentValueNames];
  const random = seededRandom((options.seed ?? 7) + 2);
  /** What a caller can see of the store (the fed values copied). */
  const observe = (store: KvCacheStore) => {
    const feeds = store.materialize();
    return {
      length: store.length,
      positions: store.slotPositions?.().map((list) => [...list]),
      bytes: store.bytes(),
      feeds: pastNames.map((name) => (feeds[name]!.data as Float32Array).slice()),
    };
  };
  for (const value of [-1e6, 1e6]) {
    for (const target of [L - 1, 2 * L - 1]) {
      const label = `a value of ${value} in ${presentNames[target]}`;
      const store = create();
      store.begin({ layout, batchSize: B, session: fakeSession().session });
      /** truth[stream][row][slot] = the values the store was given for that slot. */
      const truth: Float32Array[][][] = pastNames.map(() => Array.from({ length: B * H }, () => []));
      /** Slot holding the value, once an append with it was taken. */
      let held = -1;
      /** Tokens taken so far: the position of the next one. */
      let seen = 0;
      /** Appends `count` tokens in [−1, 1] (the first new token of the last row of `target` holding `value` when `poison`); false if refused, after checking that nothing changed. */
      const append = (count: number, poison: boolean, when: string): boolean => {
        const before = observe(store);
        const n = before.length;
        const tokens = pastNames.map(() => Array.from({ length: B * H }, () => Array.from({ length: count }, () => Float32Array.from({ length: D }, () => random() * 2 - 1))));
        if (poison) tokens[target]![B * H - 1]![0]![D - 1] = value;
        const presents: Record<string, BackendTensor> = {};
        presentNames.forEach((name, s) => {
          const data = new Float32Array(B * H * (n + count) * D);
          for (let r = 0; r < B * H; r++) {
            data.set(before.feeds[s]!.subarray(r * n * D, (r + 1) * n * D), r * (n + count) * D);
            tokens[s]![r]!.forEach((token, j) => data.set(token, (r * (n + count) + n + j) * D));
          }
          presents[name] = fakeTensor('float32', data, [B, H, n + count, D]);
        });
        try {
          store.append(presents);
        } catch (error) {
          assert.deepEqual(observe(store), before, `${label}, ${when}: append() threw (${error instanceof Error ? error.message : String(error)}) and left the store changed`);
          return false;
        }
        tokens.forEach((rows, s) => rows.forEach((list, r) => truth[s]![r]!.push(...list)));
        if (poison) held = n;
        seen += count;
        return true;
      };
      /** The fed values of `slots` against what the store was given. */
      const checkValues = (slots: readonly number[], when: string): void => {
        const { length: n, feeds } = observe(store);
        assert.equal(n, truth[0]![0]!.length, `${label}, ${when}: length`);
        for (let s = 0; s < pastNames.length; s++) {
          let worst = 0;
          for (let r = 0; r < B * H; r++) {
            for (const slot of slots) for (let c = 0; c < D; c++) worst = Math.max(worst, Math.abs(feeds[s]![(r * n + slot) * D + c]! - truth[s]![r]![slot]![c]!));
          }
          assert.ok(worst <= options.tolerance, `${label}, ${when}: ${pastNames[s]} is off by ${worst} (tolerance ${options.tolerance})`);
        }
      };
      append(6, false, 'prefill');
      append(1, false, 'decode');
      if (!append(3, true, 'the append that brings it')) {
        assert.ok(append(1, false, 'the append after the refused one'), `${label}: the append after the refused one was refused too`);
        checkValues(Array.from({ length: store.length }, (_, i) => i), 'the append after the refused one');
      } else {
        // Held for now: ordinary appends until a later one is refused (a tier move), or 320 tokens.
        for (let i = 0; i < 40; i++) {
          if (append(8, false, `8 more tokens (${i})`)) continue;
          if (options.evicts === false || !store.retain) break;
          const slots = Array.from({ length: store.length }, (_, j) => j).filter((j) => j !== held);
          const expected = store.slotPositions?.().map((list) => [...list].filter((_, j) => j !== held).concat(seen));
          store.retain({ kind: 'shared', slots });
          for (const rows of truth) for (const list of rows) list.splice(held, 1);
          assert.ok(append(1, false, 'the append after evicting it'), `${label}: an append after a refused one and the eviction of the value's slot was refused too`);
          if (expected) assert.deepEqual(store.slotPositions!().map((list) => [...list]), expected, `${label}, the append after evicting it: slotPositions()`);
          // Only the new token: a store may have grouped the evicted value with tokens it keeps.
          checkValues([store.length - 1], 'the append after evicting it');
          break;
        }
      }
      store.dispose();
    }
  }
}

/**
 * For a store declaring `float16Cache` (also run by {@link checkKvStoreContract}): one instance
 * begun with a float32 layout and one with the same layout's `pastType: 'float16'` go through the
 * same prefill, decode steps and evictions (shared, then per head), the second given float16 presents and the first the
 * same values as float32. The second must feed float16 past tensors of the same dims holding the
 * float16 of what the first feeds (within one float16 step), and report the same length and bytes.
 */
export function checkFloat16CacheContract(create: () => KvCacheStore, options: Omit<ConformanceOptions, 'tolerance'> = {}): void {
  const B = options.batchSize ?? 2;
  const H = options.numKvHeads ?? 2;
  const D = options.headDim ?? 16;
  const layout = fakeLayout(options.numLayers ?? 2, H, D);
  const pastNames = [...layout.pastKeyNames, ...layout.pastValueNames];
  const presentNames = [...layout.presentKeyNames, ...layout.presentValueNames];
  const random = seededRandom((options.seed ?? 7) + 1);
  const [wide, half] = [create(), create()];
  assert.equal(half.float16Cache, true, 'float16 run: the store does not declare float16Cache');
  wide.begin({ layout, batchSize: B, session: fakeSession(true).session });
  half.begin({ layout: { ...layout, pastType: 'float16' }, batchSize: B, session: fakeSession(true).session });
  const counts = [6, 1, 1, 2, ...Array.from({ length: 12 }, () => 1)];
  for (const [step, count] of counts.entries()) {
    const when = `float16 run step ${step}`;
    const fed = half.materialize();
    const past = half.length;
    const halves: Record<string, BackendTensor> = {};
    const floats: Record<string, BackendTensor> = {};
    presentNames.forEach((name, i) => {
      const fedPast = fed[pastNames[i]!];
      assert.ok(fedPast, `${when}: materialize() has no ${pastNames[i]}`);
      assert.equal(fedPast.type, 'float16', `${when}: ${pastNames[i]} type`);
      // A present is the fed past, then the new tokens, per batch row and head.
      const bits = new Uint16Array(B * H * (past + count) * D);
      for (let row = 0; row < B * H; row++) {
        bits.set((fedPast.data as Uint16Array).subarray(row * past * D, (row + 1) * past * D), row * (past + count) * D);
        encodeFp16(Array.from({ length: count * D }, () => random() * 2 - 1), bits, (row * (past + count) + past) * D);
      }
      const dims = [B, H, past + count, D];
      halves[name] = fakeTensor('float16', bits, dims);
      floats[name] = fakeTensor('float32', tensorFloat32(halves[name]!), dims);
    });
    wide.materialize();
    wide.append(floats);
    half.append(halves);
    if (step === 8 && options.evicts !== false) {
      const keep: KvSelection = { kind: 'shared', slots: [0, 1, 3, 4, 6, 7, 8, 9, 10] };
      wide.retain!(keep);
      half.retain!(keep);
    }
    if (step === 12 && H > 1 && options.evicts !== false) {
      // Per head: head h drops slot h.
      const n = wide.length;
      const keep: KvSelection = { kind: 'per-head', slots: Array.from({ length: H }, (_, h) => Array.from({ length: n }, (_, i) => i).filter((i) => i !== h)) };
      wide.retain!(keep);
      half.retain!(keep);
    }
    const a = wide.materialize();
    const b = half.materialize();
    assert.equal(half.length, wide.length, `${when}: length`);
    assert.equal(half.bytes(), wide.bytes(), `${when}: bytes()`);
    for (const name of pastNames) {
      const tb = b[name];
      assert.ok(tb, `${when}: materialize() has no ${name}`);
      assert.equal(tb.type, 'float16', `${when}: ${name} type`);
      assert.deepEqual([...tb.dims], [...a[name]!.dims], `${when}: ${name} dims`);
      const got = tensorFloat32(tb);
      const want = a[name]!.data as Float32Array;
      for (let i = 0; i < want.length; i++) {
        const w = want[i]!;
        assert.ok(Math.abs(got[i]! - w) <= Math.abs(w) * 2 ** -10 + 2 ** -24, `${when}: ${name}[${i}] is ${got[i]}, the float16 of ${w} expected`);
      }
    }
  }
  wide.dispose();
  half.dispose();
}
