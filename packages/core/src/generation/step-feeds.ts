import type { BackendTensor, InferenceSession } from '../spec/backend.js';
import type { KvLayout } from '../spec/kv-cache.js';

/**
 * Builds `input_ids`, `attention_mask` and `position_ids` for one step of a left-padded batch.
 * `tokens` holds the ids fed per row (equal lengths); `pads[r]` is how many leading positions of
 * row r are padding; `pastLength` is the number of positions already cached.
 */
export function stepFeeds(
  session: Pick<InferenceSession, 'createTensor'>,
  layout: KvLayout,
  tokens: readonly (readonly number[])[],
  pads: readonly number[],
  pastLength: number,
): Record<string, BackendTensor> {
  const batch = tokens.length;
  const seq = tokens[0]!.length;
  const total = pastLength + seq;
  const ids = new BigInt64Array(batch * seq);
  tokens.forEach((row, r) => row.forEach((id, c) => (ids[r * seq + c] = BigInt(id))));
  const feeds: Record<string, BackendTensor> = { input_ids: session.createTensor('int64', ids, [batch, seq]) };
  if (layout.hasAttentionMask) {
    const mask = new BigInt64Array(batch * total).fill(1n);
    pads.forEach((pad, r) => mask.fill(0n, r * total, r * total + Math.min(pad, total)));
    feeds['attention_mask'] = session.createTensor('int64', mask, [batch, total]);
  }
  if (layout.hasPositionIds) {
    const positions = new BigInt64Array(batch * seq);
    pads.forEach((pad, r) => {
      for (let c = 0; c < seq; c++) positions[r * seq + c] = BigInt(Math.max(0, pastLength + c - pad));
    });
    feeds['position_ids'] = session.createTensor('int64', positions, [batch, seq]);
  }
  return feeds;
}
