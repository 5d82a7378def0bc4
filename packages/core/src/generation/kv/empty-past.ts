import type { BackendTensor, InferenceSession } from '../../spec/backend.js';
import type { KvLayout } from '../../spec/kv-cache.js';

type TensorMaker = Pick<InferenceSession, 'createTensor'>;

/**
 * Per session, then per batch size and element type (the batch size, negated for float16): the
 * zero-length past tensors made for it. A float16 graph's cache is float16 for a store begun with
 * the graph's layout, float32 for one begun through core's float16 bridge (a router, another
 * store), and runs of either kind follow each other on one session.
 */
const made = new WeakMap<TensorMaker, Map<number, Readonly<Record<string, BackendTensor>>>>();

/**
 * Zero-length `past_key_values.*` tensors (`[batch, kvHeads, 0, headDim]`) for the first step of a
 * run, made once per session, batch size and element type and shared by every run after: they hold no data and
 * nothing writes them, so feeding the same objects again is safe, and a request no longer pays
 * for 2 × layers tensor constructions before its first forward pass. Never dispose them.
 */
export function sharedEmptyPast(session: TensorMaker, layout: KvLayout, batchSize: number): Readonly<Record<string, BackendTensor>> {
  let bySize = made.get(session);
  if (!bySize) made.set(session, (bySize = new Map()));
  // float16 where the layout's cache is (fp16 exports), else float32.
  const half = layout.pastType === 'float16';
  const key = half ? -batchSize : batchSize;
  let tensors = bySize.get(key);
  if (!tensors) {
    const dims = [batchSize, layout.numKvHeads, 0, layout.headDim];
    const record: Record<string, BackendTensor> = {};
    // Key then value per layer, the order the fp32 store appends in: one key order for every step's feeds.
    for (let i = 0; i < layout.pastKeyNames.length; i++) {
      record[layout.pastKeyNames[i]!] = half ? session.createTensor('float16', new Uint16Array(0), dims) : session.createTensor('float32', new Float32Array(0), dims);
      record[layout.pastValueNames[i]!] = half ? session.createTensor('float16', new Uint16Array(0), dims) : session.createTensor('float32', new Float32Array(0), dims);
    }
    tensors = Object.freeze(record);
    bySize.set(key, tensors);
  }
  return tensors;
}
