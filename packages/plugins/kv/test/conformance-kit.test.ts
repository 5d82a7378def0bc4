/**
 * The conformance kit is only worth something if it rejects broken stores: each store below is
 * core's contract met except for one mistake, and the kit must name it.
 */
import { describe, expect, it } from 'vitest';
import type { BackendTensor, KvCacheInit, KvCacheStore, KvSelection } from '@weft/core';
import { Int8KvStore } from '../src/index.js';
import { checkKvStoreContract, checkMultiTokenAppend, checkTruncateContract } from '../src/conformance.js';
import { ListKvStore } from './fixtures/list-kv-store.js';
// A plain JavaScript fixture without declarations: typed by the cast below.
import { CopyKvStore as CopyKvStoreJs } from './fixtures/copy-kv-store.mjs';

const CopyKvStore = CopyKvStoreJs as new () => KvCacheStore & { retain(selection: KvSelection): void; slotPositions(): readonly (readonly number[])[] };
type Store = InstanceType<typeof CopyKvStore>;

/** A correct store with one method replaced. */
function broken(patch: (store: Store, original: Store) => Partial<KvCacheStore>): () => KvCacheStore {
  return () => {
    const store = new CopyKvStore();
    const original = {
      append: store.append.bind(store),
      retain: store.retain.bind(store),
      materialize: store.materialize.bind(store),
      slotPositions: store.slotPositions.bind(store),
      begin: store.begin.bind(store),
      bytes: store.bytes.bind(store),
    } as unknown as Store;
    return Object.assign(store, patch(store, original));
  };
}

describe('the conformance kit rejects broken stores', () => {
  it('passes the correct stores it is built around', () => {
    expect(() => checkKvStoreContract(() => new CopyKvStore(), { tolerance: 0, dropsCollectedTensors: true })).not.toThrow();
    expect(() => checkKvStoreContract(() => new Int8KvStore(), { tolerance: 0.0041, dropsCollectedTensors: true })).not.toThrow();
  });

  const cases: [string, () => KvCacheStore, RegExp][] = [
    [
      'a present that does not fit the layout accepted',
      broken((_s, o) => ({
        append: (p: Readonly<Record<string, BackendTensor>>) => {
          try {
            o.append(p);
          } catch {
            // swallowed: the store carries on as if nothing had been given
          }
        },
      })),
      /append of a present with a head missing: append\(\) accepted a present\.1\.value of dims \[2, 1, 66, 16\]/,
    ],
    [
      'a refused append that took tokens first',
      broken((s, o) => ({
        append: (p: Readonly<Record<string, BackendTensor>>) => {
          const bad = Object.entries(p).find(([, t]) => t.dims[1] !== p['present.0.key']!.dims[1]);
          if (!bad) return o.append(p);
          // Like a store that appends layer by layer and only then meets the malformed one.
          o.append({ ...p, [bad[0]]: p['present.0.key']! });
          throw new Error(`${bad[0]} does not fit (${s.length} slots now)`);
        },
      })),
      /append of a present with a head missing \(after\): length/,
    ],
    [
      'a value beyond fp16 refused after the store took the append',
      broken((_s, o) => ({
        append: (p: Readonly<Record<string, BackendTensor>>) => {
          const big = Object.values(p).some((t) => (t.data as Float32Array).some((v) => Math.abs(v) > 65504));
          o.append(p);
          if (big) throw new RangeError('a value beyond fp16');
        },
      })),
      /a value of -1000000 in present\.1\.key, the append that brings it: append\(\) threw \(a value beyond fp16\) and left the store changed/,
    ],
    [
      'a refused value that leaves the store refusing every later append',
      broken((_s, o) => {
        let stuck = false;
        return {
          append: (p: Readonly<Record<string, BackendTensor>>) => {
            if (stuck || Object.values(p).some((t) => (t.data as Float32Array).some((v) => Math.abs(v) > 65504))) {
              stuck = true;
              for (const t of Object.values(p)) t.dispose();
              throw new RangeError('a value beyond fp16');
            }
            o.append(p);
          },
        };
      }),
      /a value of -1000000 in present\.1\.key: the append after the refused one was refused too/,
    ],
    [
      'per-head selections applied as head 0\'s',
      broken((_s, o) => ({ retain: (sel: KvSelection) => o.retain(sel.kind === 'per-head' ? { kind: 'shared', slots: sel.slots[0]! } : sel) })),
      /per-head retain/,
    ],
    [
      'appended slots numbered by length, reusing evicted positions',
      broken((s, o) => ({
        append: (p: Readonly<Record<string, BackendTensor>>) => {
          const before = s.length;
          o.append(p);
          const lists = o.slotPositions() as number[][];
          for (const list of lists) for (let i = before; i < list.length; i++) list[i] = i;
        },
      })),
      /slotPositions\(\)/,
    ],
    [
      'a stale feed after retain',
      (() => {
        class Stale extends CopyKvStore {
          #last: Readonly<Record<string, BackendTensor>> | undefined;
          #retained = false;
          override materialize() {
            if (this.#retained && this.#last) return this.#last;
            return (this.#last = super.materialize());
          }
          override retain(selection: KvSelection) {
            super.retain(selection);
            this.#retained = true;
          }
          override append(p: Readonly<Record<string, BackendTensor>>) {
            this.#retained = false;
            super.append(p);
          }
        }
        return () => new Stale();
      })(),
      /retain \(after\)/,
    ],
    [
      'feeds written to after they were handed out (a scratch buffer reused by slotPositions())',
      broken((_s, o) => ({
        slotPositions: () => {
          for (const t of Object.values(o.materialize())) (t.data as Float32Array).fill(0);
          return o.slotPositions();
        },
      })),
      // Named where it happens (the kit used to notice only at the next eviction, as wrong values).
      /decode 0 \(reading length and slotPositions\(\)\): past_key_values\.0\.key changed before the next append/,
    ],
    [
      'bytes() that does not shrink on eviction',
      broken((s, o) => {
        let most = 0;
        return { bytes: () => (most = Math.max(most, o.bytes())) };
      }),
      /bytes\(\) must shrink/,
    ],
    [
      'a multi-token append reading only its last token',
      broken((s, o) => ({
        append: (p: Readonly<Record<string, BackendTensor>>) => {
          const past = s.length;
          const copy = Object.fromEntries(
            Object.entries(p).map(([name, t]) => {
              const data = (t.data as Float32Array).slice();
              const [b, h, n, d] = t.dims as number[];
              for (let r = 0; r < b! * h!; r++) for (let j = past; j < n! - 1; j++) data.copyWithin((r * n! + j) * d!, (r * n! + n! - 1) * d!, (r * n! + n!) * d!);
              t.dispose();
              return [name, { ...t, data, dispose() {} }];
            }),
          );
          o.append(copy as Record<string, BackendTensor>);
        },
      })),
      /is off by/,
    ],
    [
      'a selection modified after use (the store keeps the right slots)',
      broken((_s, o) => ({
        retain: (sel: KvSelection) => {
          o.retain(sel);
          if (sel.kind === 'shared') (sel.slots as number[]).splice(0, 1);
        },
      })),
      /shared retain: retain\(\) modified the selection it was given/,
    ],
    [
      'rows of a batch swapped with heads',
      broken((s, o) => ({
        begin: (init: KvCacheInit) => o.begin(init),
        materialize: () => {
          const feeds = o.materialize();
          return Object.fromEntries(
            Object.entries(feeds).map(([name, t]) => {
              const [b, h, n, d] = t.dims as number[];
              const src = t.data as Float32Array;
              const data = new Float32Array(src.length);
              for (let i = 0; i < b!; i++) for (let j = 0; j < h!; j++) data.set(src.subarray((i * h! + j) * n! * d!, (i * h! + j + 1) * n! * d!), (j * b! + i) * n! * d!);
              return [name, Object.assign(t, { data })];
            }),
          );
        },
      })),
      /is off by/,
    ],
  ];
  it('a selection the store edits before using it (it evicts a slot the router kept)', () => {
    // The kit computed the expected slots from the same (edited) array, so this passed.
    const create = broken((_s, o) => ({
      retain: (sel: KvSelection) => {
        if (sel.kind === 'shared') (sel.slots as number[]).splice(0, 1);
        o.retain(sel);
      },
    }));
    expect(() => checkKvStoreContract(create, { tolerance: 0 })).toThrow(/shared retain: retain\(\) modified the selection it was given/);
  });

  it('a reused instance that keeps the batch size of its first run', () => {
    class FirstBatch extends CopyKvStore {
      #batch: number | undefined;
      override begin(init: KvCacheInit) {
        this.#batch ??= init.batchSize;
        super.begin({ ...init, batchSize: this.#batch });
      }
    }
    expect(() => checkKvStoreContract(() => new FirstBatch(), { tolerance: 0 })).toThrow(/second run \(one more batch row\)/);
  });

  it('a float16 cache whose per-head eviction goes wrong (only the float32 path is right)', () => {
    // Int8 whose float16 instance applies head 0's list to every head.
    class HalfPerHeadAsShared extends Int8KvStore {
      #half = false;
      override begin(init: KvCacheInit) {
        this.#half = init.layout.pastType === 'float16';
        super.begin(init);
      }
      override retain(selection: KvSelection) {
        super.retain(this.#half && selection.kind === 'per-head' ? { kind: 'shared', slots: selection.slots[0]! } : selection);
      }
    }
    expect(() => checkKvStoreContract(() => new HalfPerHeadAsShared(), { tolerance: 0.0041 })).toThrow(/float16 run step 12/);
  });

  it.each(cases)('%s', (_name, create, message) => {
    expect(() => checkKvStoreContract(create, { tolerance: 0 })).toThrow(message);
  });
});

describe('tensors a store replaces', () => {
  // The kit used to look only at dispose(): a store that held every past it fed until then passed
  // (after 200 decode steps, 800 tensors undisposed at a time).
  const leak = /the store holds 4 tensors it made or was given undisposed beyond the 4 it may hold \(its current feeds\), the first of dims \[2, 2, 0, 16\]: a store disposes the tensors it replaces/;

  it('passes a store that disposes each fed tensor once an append, retain or truncate replaces it', () => {
    // (Its truncate does not look for evictions: the kit reports that check skipped, as core never asks.)
    expect(checkKvStoreContract(() => new ListKvStore(), { tolerance: 0, dropsCollectedTensors: true }).skipped).toEqual([
      'truncate after retain evicted position 2: truncate(1) accepted, not checked (core calls truncate only on a store that has evicted nothing)',
    ]);
  });

  it('rejects a store that keeps every tensor it fed until dispose(), at the first step after a change', () => {
    const create = () => new ListKvStore({ leaks: true });
    expect(() => checkKvStoreContract(create, { tolerance: 0, dropsCollectedTensors: true })).toThrow(new RegExp(`^decode 0: ${leak.source}`));
    // The prompt-cache checks, run on their own, look too.
    expect(() => checkMultiTokenAppend(create, { tolerance: 0 })).toThrow(new RegExp(`^after the append of 72 positions onto 0 \\(72 positions\\): ${leak.source}`));
    expect(() => checkTruncateContract(create, { tolerance: 0 })).toThrow(new RegExp(`^after the append of 3 positions onto 0 \\(3 positions\\): ${leak.source}`));
  });

  it('rejects a store that leaks only what retain replaces', () => {
    class LeaksOnRetain extends ListKvStore {
      override retain(selection: KvSelection): void {
        const fed = Object.values(this.materialize());
        for (const t of fed) Object.assign(t, { dispose() {} });
        super.retain(selection);
      }
    }
    expect(() => checkKvStoreContract(() => new LeaksOnRetain(), { tolerance: 0 })).toThrow(/^shared retain \(after\): the store holds 4 tensors it made or was given undisposed beyond the 4 it may hold/);
  });
});
