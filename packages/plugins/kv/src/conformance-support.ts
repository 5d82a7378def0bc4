/** What the conformance checks share: fake CPU tensors and sessions, a layout, and the kit's options and report. */
import assert from 'node:assert/strict';
import type { BackendTensor, InferenceSession, KvLayout, TensorDataType, TensorDataTypeMap } from '@weft/core';

/** A CPU tensor that records its disposal. */
export interface FakeTensor<T extends TensorDataType = TensorDataType> extends BackendTensor<T> {
  disposed: boolean;
}

/** A CPU tensor of `type` over `data` (whose length must match `dims`), not yet disposed. */
export function fakeTensor<T extends TensorDataType>(type: T, data: TensorDataTypeMap[T], dims: readonly number[]): FakeTensor<T> {
  const size = dims.reduce((a, b) => a * b, 1);
  assert.equal(data.length, size, `tensor data has ${data.length} elements for dims [${dims.join(', ')}]`);
  const t: FakeTensor<T> = {
    type,
    dims: [...dims],
    data,
    disposed: false,
    dispose() {
      t.disposed = true;
    },
  };
  return t;
}

/**
 * A session whose `createTensor` records every tensor it makes; with `garbageCollectedTensors` it
 * declares its tensors garbage-collected, as onnxruntime-node's session does.
 */
export function fakeSession(garbageCollectedTensors = false): { session: Pick<InferenceSession, 'createTensor' | 'garbageCollectedTensors'>; created: FakeTensor[] } {
  const created: FakeTensor[] = [];
  return {
    created,
    session: {
      ...(garbageCollectedTensors ? { garbageCollectedTensors } : {}),
      createTensor: <T extends TensorDataType>(type: T, data: TensorDataTypeMap[T], dims: readonly number[]) => {
        const t = fakeTensor(type, data, dims);
        created.push(t as FakeTensor);
        return t;
      },
    },
  };
}

/** A decoder layout with `past_key_values.{i}.key|value` inputs and `present.{i}.key|value` outputs. */
export function fakeLayout(numLayers: number, numKvHeads: number, headDim: number): KvLayout {
  const names = (f: (i: number) => string) => Array.from({ length: numLayers }, (_, i) => f(i));
  return {
    numLayers,
    numKvHeads,
    headDim,
    pastKeyNames: names((i) => `past_key_values.${i}.key`),
    pastValueNames: names((i) => `past_key_values.${i}.value`),
    presentKeyNames: names((i) => `present.${i}.key`),
    presentValueNames: names((i) => `present.${i}.value`),
    attentionNames: [],
    hasPast: true,
    hasPositionIds: true,
    hasAttentionMask: true,
  };
}

/** What {@link checkKvStoreContract} may expect of the store under test. */
export interface ConformanceOptions {
  /** Largest |materialized − true| allowed, for true values in [−1, 1] (0 for lossless stores). */
  readonly tolerance: number;
  /**
   * The store keeps the `present.*` tensors it is given (core's fp32 store) instead of disposing them
   * in `append`: those of the last append, until the next change replaces them.
   */
  readonly keepsPresents?: boolean;
  /**
   * The store feeds a zero-length past made once per session and batch size and shared by every
   * run (core's fp32 store); those tensors are never disposed. Every other tensor must be.
   */
  readonly sharesEmptyPast?: boolean;
  readonly batchSize?: number;
  readonly numLayers?: number;
  readonly numKvHeads?: number;
  readonly headDim?: number;
  readonly seed?: number;
  /** Largest bytes() allowed relative to a float32 cache of the same slots (default 1). */
  readonly maxBytesRatio?: number;
  /**
   * Also check that on a session declaring `garbageCollectedTensors`, the store disposes nothing:
   * neither the presents it is given nor tensors it made (it may drop them instead).
   */
  readonly dropsCollectedTensors?: boolean;
  /**
   * Whether the store evicts (`retain`, default true). `KvCacheStore.retain` is optional: a store
   * without it passes with `evicts: false`, which skips the eviction steps (such a store cannot
   * be combined with evicting routers).
   */
  readonly evicts?: boolean;
}

/** What {@link checkKvStoreContract} (or {@link checkTruncateContract}) left out as not applicable to the store. */
export interface ConformanceReport {
  /**
   * One line per check skipped and why, e.g. `truncate after 40 positions: not offered (truncate is
   * undefined)`. Empty when every check ran. A store that means to offer an optional method in a
   * state can assert that its check is not listed here.
   */
  readonly skipped: readonly string[];
}

/**
 * On a session whose tensors are not garbage-collected, after a change (append, retain, truncate,
 * a refused append) and the next `materialize()`: of `tracked` (the tensors the session created
 * for the store and the presents it was given this run), every one still undisposed must be among
 * `handedOut` (what `materialize()` returned since that change) or `kept` (with `keepsPresents`,
 * the last append's presents). A store disposes the tensors it replaces: one that holds on to each
 * past it fed until `dispose()` fails here, at the step where the count first grows.
 */
export function checkHeld(tracked: readonly FakeTensor[], handedOut: ReadonlySet<BackendTensor>, kept: readonly FakeTensor[], when: string): void {
  const held = tracked.filter((t) => !t.disposed && !handedOut.has(t) && !kept.includes(t));
  if (held.length === 0) return;
  const allowed = new Set([...handedOut, ...kept]).size;
  assert.fail(
    `${when}: the store holds ${held.length} tensor${held.length === 1 ? '' : 's'} it made or was given undisposed beyond the ${allowed} it may hold (its current feeds${kept.length > 0 ? ' and the presents it keeps' : ''}), the first of dims [${held[0]!.dims.join(', ')}]: a store disposes the tensors it replaces and the presents it does not keep (after append, retain or truncate), unless the session's tensors are garbage-collected`,
  );
}
