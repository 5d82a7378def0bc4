import type { BackendTensor, WeftModel } from '../src/index.js';

/** Feeds for a 2-token prefill of `model` with an empty past, made on its session (for direct `model.session.run` calls). */
export function prefillFeeds(model: WeftModel): Record<string, BackendTensor> {
  const { session, layout } = model;
  const feeds: Record<string, BackendTensor> = { input_ids: session.createTensor('int64', BigInt64Array.of(1n, 2n), [1, 2]) };
  if (layout.hasAttentionMask) feeds['attention_mask'] = session.createTensor('int64', BigInt64Array.of(1n, 1n), [1, 2]);
  if (layout.hasPositionIds) feeds['position_ids'] = session.createTensor('int64', BigInt64Array.of(0n, 1n), [1, 2]);
  for (const name of [...layout.pastKeyNames, ...layout.pastValueNames]) {
    feeds[name] = session.createTensor('float32', new Float32Array(0), [1, layout.numKvHeads, 0, layout.headDim]);
  }
  return feeds;
}
