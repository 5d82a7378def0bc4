/**
 * An append refused for a value the store cannot hold (beyond fp16's range in fp16 storage or fp16
 * scales) leaves the store exactly as it was, whichever lane refuses it and at which point: on entry,
 * or as a tier moves tokens to a lower precision (KIVI's residual flush, temporal's tiers), halfway
 * through a multi-token append or a key block. A store that took part of the append (lanes ahead
 * of the refusing one, tokens moved before the refused one) would then feed wrong values.
 */
import { describe, expect, it } from 'vitest';
import type { KvCacheStore, KvSelection } from '@weft/core';
import {
  ChannelBlockLane,
  Fp16KvStore,
  Fp16Lane,
  Fp32Lane,
  GroupLane,
  Int4KvStore,
  Int8KvStore,
  KiviKvStore,
  LaneKvStore,
  PaddedLane,
  TemporalKvStore,
  TieredLane,
  type Lane,
} from '../src/index.js';
import { fakeLayout, fakeSession, fakeTensor } from '../src/conformance.js';

const [L, H, D, B] = [2, 2, 8, 2];
const layout = fakeLayout(L, H, D);
/** Streams in the stores' order: every layer's keys, then every layer's values. */
const presentNames = [...layout.presentKeyNames, ...layout.presentValueNames];

/** Where a poisoned value goes: stream (index into `presentNames`), lane row (b·H + h), new token, channel. */
interface Poison {
  readonly stream: number;
  readonly row: number;
  readonly token: number;
  readonly value: number;
}

/** One step of a scenario: an append of `count` new tokens, or an eviction. */
type Step = { readonly count: number; readonly poison?: Poison; readonly refused?: true } | { readonly retain: (length: number) => KvSelection };

/** Seeded values in [-1, 1]: both stores of a comparison get the same tokens. */
function tokens(seed: number, n: number): Float32Array {
  let s = seed;
  return new Float32Array(n).map(() => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1);
}

/** Presents of `count` new tokens after the store's past (stores read only the new tail). */
function presents(past: number, count: number, seed: number, poison?: Poison) {
  return Object.fromEntries(
    presentNames.map((name, s) => {
      const data = new Float32Array(B * H * (past + count) * D);
      for (let r = 0; r < B * H; r++) data.set(tokens(seed * 101 + s * 11 + r, count * D), (r * (past + count) + past) * D);
      if (poison?.stream === s) data[(poison.row * (past + count) + past + poison.token) * D + D - 1] = poison.value;
      return [name, fakeTensor('float32', data, [B, H, past + count, D])];
    }),
  );
}

/** Everything a caller can see of a store: length, slot positions, bytes and the fed values. */
function state(store: KvCacheStore) {
  const feeds = store.materialize();
  return {
    length: store.length,
    positions: store.slotPositions?.().map((list) => [...list]),
    bytes: store.bytes(),
    feeds: Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, Array.from(t.data as Float32Array)])),
  };
}

/**
 * Runs `steps` on `store` and on a second instance that skips the refused appends; a refused one
 * must throw a RangeError and leave `store` as it was, and after every step the two must match.
 */
function run(create: () => KvCacheStore, steps: readonly Step[], padding?: readonly number[]): void {
  const [store, reference] = [create(), create()];
  for (const s of [store, reference]) s.begin({ layout, batchSize: B, session: fakeSession().session, ...(padding ? { padding } : {}) });
  steps.forEach((step, i) => {
    const before = state(store);
    if ('retain' in step) {
      const selection = step.retain(store.length);
      store.retain!(selection);
      reference.retain!(selection);
    } else if (step.refused) {
      expect(() => store.append(presents(store.length, step.count, i, step.poison)), `step ${i}`).toThrow(RangeError);
      expect(state(store), `step ${i}: the refused append changed the store`).toEqual(before);
      return;
    } else {
      store.append(presents(store.length, step.count, i, step.poison));
      reference.append(presents(reference.length, step.count, i, step.poison));
    }
    expect(state(store), `step ${i}`).toEqual(state(reference));
  });
}

/** Keeps every slot but `slot`. */
const without = (slot: number) => (length: number): KvSelection => ({ kind: 'shared', slots: Array.from({ length }, (_, i) => i).filter((i) => i !== slot) });
const last = { stream: presentNames.length - 1, row: B * H - 1 };

describe('an append refused for a value the store cannot hold leaves the store as it was', () => {
  it('fp16: a value beyond 65504 in the last lane of the last layer (every lane before it could take the step)', () => {
    run(() => new Fp16KvStore(), [{ count: 4 }, { count: 3, poison: { ...last, token: 1, value: 1e5 }, refused: true }, { count: 3 }, { count: 1 }]);
  });

  it('int8 with fp16 scales: the third token of a multi-token append has a group it cannot hold', () => {
    run(() => new Int8KvStore({ group: 4 }), [{ count: 4 }, { count: 3, poison: { stream: 0, row: 1, token: 2, value: -1e5 }, refused: true }, { count: 3 }]);
    run(() => new Int4KvStore(), [{ count: 2 }, { count: 2, poison: { ...last, token: 1, value: 1e6 }, refused: true }, { count: 1 }]);
  });

  it('kivi: keys refused as they leave the residual, in the second key block of one append', () => {
    // Residual 2 + 4 new = 6 > 2: 4 keys leave in two blocks of 2; the poisoned one (new token 1) is in the second.
    const create = () => new KiviKvStore({ group: 2, residual: 2 });
    run(create, [{ count: 2 }, { count: 4, poison: { stream: 1, row: B * H - 1, token: 1, value: -1e5 }, refused: true }, { count: 4 }, { count: 1 }]);
  });

  it('kivi: a value the residual took, refused steps later as it leaves (then evicted, the store goes on)', () => {
    const create = () => new KiviKvStore({ group: 2, residual: 2 });
    const poison = { ...last, token: 0, value: -1e5 };
    run(create, [{ count: 2 }, { count: 1, poison }, { count: 1 }, { count: 1, refused: true }, { count: 1, refused: true }, { retain: without(2) }, { count: 1 }, { count: 3 }]);
  });

  it('temporal: a new token moved through a tier that refuses it in the same append', () => {
    // fp32 holds 2: of 2 + 3 tokens, 3 move on to fp16, the poisoned one among them.
    const create = () => new TemporalKvStore({ fp32: 2, fp16: 8, rest: 'int8' });
    run(create, [{ count: 2 }, { count: 3, poison: { stream: 2, row: 0, token: 0, value: 1e5 }, refused: true }, { count: 3 }, { count: 1 }]);
  });

  it('temporal: int8 holds a value that int4 refuses when the token ages into it', () => {
    // One group per token; 1e6 needs a step of ~3922 in int8 (fits fp16) and ~66667 in int4 (does not).
    const create = () => new TemporalKvStore({ fp32: 1, int8: 2, rest: 'int4' });
    const poison = { ...last, token: 0, value: 1e6 };
    run(create, [{ count: 1 }, { count: 1, poison }, { count: 1 }, { count: 1, refused: true }, { retain: without(1) }, { count: 1 }, { count: 2 }]);
  });

  it('kivi, left-padded row: the pads it took before the first real token was refused', () => {
    // Row 0 has 2 pad slots (quantised per token, apart); its real tokens go to an fp16 residual, which refuses 1e5.
    const create = () => new KiviKvStore({ group: 2, residual: 2, residualPrecision: 'fp16' });
    run(create, [{ count: 4, poison: { stream: 0, row: 0, token: 3, value: 1e5 }, refused: true }, { count: 4 }, { count: 1 }], [2, 0]);
  });

  it('a store of lanes without undoPush: their pushes are undone through retain', () => {
    /** An fp16 lane that only has the required methods. */
    const plain = (dim: number): Lane => {
      const lane = new Fp16Lane(dim);
      return {
        get length() {
          return lane.length;
        },
        push: (src, offset, count) => lane.push(src, offset, count),
        read: (from, to, out, outOffset) => lane.read(from, to, out, outOffset),
        dropFront: (count) => lane.dropFront(count),
        retain: (keep) => lane.retain(keep),
        bytes: () => lane.bytes(),
      };
    };
    class PlainStore extends LaneKvStore {
      readonly name = 'plain-fp16';
      protected createLane(_part: 'key' | 'value', _layer: number, dim: number): Lane {
        return plain(dim);
      }
    }
    run(() => new PlainStore(), [{ count: 4 }, { count: 3, poison: { ...last, token: 1, value: 1e5 }, refused: true }, { count: 3 }]);
  });
});

describe('lanes: a push that throws, or one undone with undoPush, leaves the lane as it was', () => {
  const d = 6;
  const tiers = () => [
    { lane: new GroupLane(d, 2, d, 'fp16'), capacity: Infinity },
    { lane: new GroupLane(d, 8, d, 'fp16'), capacity: 5, chunk: 2 },
    { lane: new Fp32Lane(d), capacity: 3 },
  ];
  const makers: [string, () => Lane][] = [
    ['fp32', () => new Fp32Lane(d)],
    ['fp16', () => new Fp16Lane(d)],
    ['int4 group 4', () => new GroupLane(d, 4, 4, 'fp16')],
    ['int8, fp32 scales', () => new GroupLane(d, 8, d, 'fp32')],
    ['channel blocks', () => new ChannelBlockLane(d, 2, 3, 'fp16')],
    ['tiers int2 ← int8 ← fp32', () => new TieredLane(tiers(), d)],
    ['kivi-like keys (blocks ← fp16 residual), 3 pads', () => new PaddedLane(3, new GroupLane(d, 2, d, 'fp16'), new TieredLane([{ lane: new ChannelBlockLane(d, 2, 2, 'fp16'), capacity: Infinity }, { lane: new Fp16Lane(d), capacity: 4, chunk: 2 }], d), d)],
  ];

  /** Length, bytes and every token as read back. */
  const view = (lane: Lane) => {
    const out = new Float32Array(lane.length * d);
    lane.read(0, lane.length, out, 0);
    return { length: lane.length, bytes: lane.bytes(), values: Array.from(out) };
  };

  it.each(makers)('%s', (_name, make) => {
    // `twin` gets the same operations except the refused and the undone pushes: the two must agree throughout.
    const [lane, twin] = [make(), make()];
    let seed = 5;
    const r = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let refused = 0;
    let undone = 0;
    for (let op = 0; op < 400; op++) {
      const kind = r();
      const before = view(lane);
      if (kind < 0.6 || lane.length === 0) {
        const count = 1 + Math.floor(r() * 5);
        const src = new Float32Array(count * d).map(() => r() * 2 - 1);
        // A value beyond what fp16 storage, fp16 zero points and fp16 scales hold, in one token of one push in five.
        if (r() < 0.2) src[Math.floor(r() * count) * d + Math.floor(r() * d)] = -1e5;
        try {
          lane.push(src, 0, count);
        } catch (error) {
          expect(error).toBeInstanceOf(RangeError);
          expect(view(lane), `op ${op}: a refused push changed the lane`).toEqual(before);
          refused++;
          continue;
        }
        if (r() < 0.25) {
          lane.undoPush!();
          expect(view(lane), `op ${op}: undoPush`).toEqual(before);
          undone++;
          continue;
        }
        twin.push(src, 0, count);
        const changed: number[] = [];
        lane.takeChanged?.(changed);
        twin.takeChanged?.([]);
      } else if (kind < 0.75) {
        const count = Math.floor(r() * (lane.length + 1));
        lane.dropFront(count);
        twin.dropFront(count);
      } else {
        const keep = Array.from({ length: lane.length }, (_, i) => i).filter(() => r() < 0.7);
        lane.retain(keep);
        twin.retain(keep);
      }
      expect(view(lane), `op ${op}`).toEqual(view(twin));
    }
    expect(undone).toBeGreaterThan(10);
    if (!(lane instanceof Fp32Lane) && _name !== 'int8, fp32 scales') expect(refused).toBeGreaterThan(10);
  });
});
