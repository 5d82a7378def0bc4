import type { BackendTensor, InferenceSession } from '../spec/backend.js';
import type { KvLayout } from '../spec/kv-cache.js';

type TensorMaker = Pick<InferenceSession, 'createTensor'>;

/** Per session: its `num_logits_to_keep` tensor of value 1. */
const keepLast = new WeakMap<TensorMaker, BackendTensor>();

/**
 * The `num_logits_to_keep` / `logits_to_keep` feed of value `count`, in the type and dims the
 * graph declares (`layout.logitsToKeep`, which must be set). Owned by the caller.
 */
export function logitsToKeepTensor(session: TensorMaker, layout: KvLayout, count: number): BackendTensor {
  const { type, dims } = layout.logitsToKeep!;
  return type === 'int32' ? session.createTensor('int32', Int32Array.of(count), dims) : session.createTensor('int64', BigInt64Array.of(BigInt(count)), dims);
}

/**
 * The feed of value 1 (logits of each row's last position only, all generation reads), made once
 * per session and shared by every step and run after: graphs only read their inputs, so feeding
 * the same object again is safe, and a decode step allocates nothing for it. Never dispose it.
 */
export function sharedKeepLastLogits(session: TensorMaker, layout: KvLayout): BackendTensor {
  let tensor = keepLast.get(session);
  if (!tensor) keepLast.set(session, (tensor = logitsToKeepTensor(session, layout, 1)));
  return tensor;
}
