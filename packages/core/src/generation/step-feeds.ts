import type { BackendTensor, InferenceSession } from '../spec/backend.js';
import type { KvLayout } from '../spec/kv-cache.js';

/** Where the fed tokens sit: cached slots and the absolute index of the first new token. */
export interface FeedPlacement {
  /**
   * Absolute index (padding included) of each cached slot, ascending. Empty for no cache. May be
   * left empty with `pastLength` set when nothing needs masking (no padding, no eviction).
   */
  readonly slotPositions: readonly number[];
  /** Number of cached slots when `slotPositions` is not given. */
  readonly pastLength?: number;
  /** Absolute index of the first token fed now (tokens seen before, padding included). */
  readonly nextPosition: number;
  /**
   * `absolute`: position_ids count every real token seen. `cache`: positions within the cache
   * (StreamingLLM), i.e. the number of real cached slots plus the offset among new tokens.
   */
  readonly positionMode?: 'absolute' | 'cache';
}

/**
 * Builds `input_ids`, `attention_mask` and `position_ids` for one step of a left-padded batch,
 * and for merged decoders `use_cache_branch` (true exactly when the placement has cached slots).
 * Each integer input has the type the layout gives (`inputTypes`: int32 where the graph declares
 * it, else int64). `num_logits_to_keep` is not fed here: the callers add it.
 * `tokens` holds the ids fed per row (equal lengths); the first `pads[r]` absolute positions of
 * row r are padding, masked out wherever they appear (cached or new).
 */
export function stepFeeds(
  session: Pick<InferenceSession, 'createTensor'>,
  layout: KvLayout,
  tokens: readonly (readonly number[])[],
  pads: readonly number[],
  placement: FeedPlacement,
): Record<string, BackendTensor> {
  const batch = tokens.length;
  const seq = tokens[0]!.length;
  const past = placement.slotPositions;
  const total = (placement.pastLength ?? past.length) + seq;
  const first = placement.nextPosition;
  const ids = new BigInt64Array(batch * seq);
  for (let r = 0; r < batch; r++) {
    const row = tokens[r]!;
    for (let c = 0; c < seq; c++) ids[r * seq + c] = BigInt(row[c]!);
  }
  const types = layout.inputTypes;
  const feeds: Record<string, BackendTensor> = {
    input_ids: types?.inputIds === 'int32' ? session.createTensor('int32', toInt32(ids), [batch, seq]) : session.createTensor('int64', ids, [batch, seq]),
  };
  if (layout.hasAttentionMask && types?.attentionMask === 'int32') {
    feeds['attention_mask'] = session.createTensor('int32', int32Mask(batch, total, seq, first, past, pads), [batch, total]);
  } else if (layout.hasAttentionMask) {
    let mask: BigInt64Array;
    if (noPadding(pads)) {
      // The common case, nothing masked: a view of one shared, read-only buffer of ones instead of
      // allocating and filling batch × total values every step.
      mask = ones(batch * total);
    } else {
      mask = new BigInt64Array(batch * total).fill(1n);
      for (let r = 0; r < batch; r++) {
        const pad = pads[r]!;
        if (pad === 0) continue;
        for (let j = 0; j < past.length; j++) if (past[j]! < pad) mask[r * total + j] = 0n;
        for (let c = 0; c < seq; c++) if (first + c < pad) mask[r * total + (total - seq) + c] = 0n;
      }
    }
    feeds['attention_mask'] = session.createTensor('int64', mask, [batch, total]);
  }
  if (layout.hasPositionIds) {
    const positions = new BigInt64Array(batch * seq);
    for (let r = 0; r < batch; r++) {
      const pad = pads[r]!;
      let base = first - pad;
      if (placement.positionMode === 'cache') {
        let real = 0;
        for (const p of past) if (p >= pad) real++;
        base = real - Math.max(0, pad - first);
      }
      for (let c = 0; c < seq; c++) positions[r * seq + c] = BigInt(Math.max(0, base + c));
    }
    feeds['position_ids'] =
      types?.positionIds === 'int32' ? session.createTensor('int32', toInt32(positions), [batch, seq]) : session.createTensor('int64', positions, [batch, seq]);
  }
  if (layout.useCacheBranch) {
    // The with-cache branch runs only when past is fed; the first step (empty past) takes the other.
    feeds['use_cache_branch'] = session.createTensor('bool', Uint8Array.of(total > seq ? 1 : 0), layout.useCacheBranch.dims);
  }
  return feeds;
}

/** Grow-only buffer of int64 ones; never written after filling, so views of it can be shared. */
let onesBuffer = new BigInt64Array(0);

function ones(length: number): BigInt64Array {
  if (onesBuffer.length < length) onesBuffer = new BigInt64Array(Math.max(length, 2 * onesBuffer.length, 1024)).fill(1n);
  return onesBuffer.subarray(0, length);
}

/** Grow-only buffer of int32 ones, shared like {@link ones} (graphs that declare an int32 mask). */
let onesInt32Buffer = new Int32Array(0);

/** `attention_mask` as int32: ones, with zeros where a row's padding is cached or fed. */
function int32Mask(batch: number, total: number, seq: number, first: number, past: readonly number[], pads: readonly number[]): Int32Array {
  if (noPadding(pads)) {
    const length = batch * total;
    if (onesInt32Buffer.length < length) onesInt32Buffer = new Int32Array(Math.max(length, 2 * onesInt32Buffer.length, 1024)).fill(1);
    return onesInt32Buffer.subarray(0, length);
  }
  const mask = new Int32Array(batch * total).fill(1);
  for (let r = 0; r < batch; r++) {
    const pad = pads[r]!;
    if (pad === 0) continue;
    for (let j = 0; j < past.length; j++) if (past[j]! < pad) mask[r * total + j] = 0;
    for (let c = 0; c < seq; c++) if (first + c < pad) mask[r * total + (total - seq) + c] = 0;
  }
  return mask;
}

/** Token ids and positions (small, non-negative, well below 2^31) as int32. */
function toInt32(values: BigInt64Array): Int32Array {
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Number(values[i]!);
  return out;
}

function noPadding(pads: readonly number[]): boolean {
  for (const p of pads) if (p !== 0) return false;
  return true;
}
