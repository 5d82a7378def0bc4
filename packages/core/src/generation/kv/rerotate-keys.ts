import { InvalidOptionsError } from '../../errors/invalid-options-error.js';
import type { BackendTensor, InferenceSession } from '../../spec/backend.js';
import type { KvLayout } from '../../spec/kv-cache.js';
import type { RotaryEmbedding } from '../../model/model-config.js';

/**
 * Re-rotates cached keys for routers with `positions: 'cache'` (StreamingLLM).
 *
 * Hugging Face ONNX decoders cache keys after the rotary embedding, so a cached key carries the
 * rotation of the position it was fed at. When eviction renumbers the cache (slot j is now
 * position j), the new query's distances to those keys are wrong unless each key is rotated by
 * `target − fed`. Rotations compose (R(a)·R(b) = R(a + b)), so this is exact up to float32
 * rounding and needs no change to the graph or the store: the store keeps what the model wrote,
 * and each step feeds rotated copies of the past keys.
 *
 * The rotate-half layout of Hugging Face Llama-family models is assumed: dimension i pairs with
 * i + rotaryDim/2, at frequency theta^(−2i/rotaryDim); dimensions past rotaryDim are left alone.
 */
export class CacheKeyRerotation {
  /** Per row: absolute index of a fed token → the position id it was fed with. */
  private readonly fed: Map<number, number>[];
  private readonly inverseFrequency: Float64Array;
  /** Reused float32 key buffers per layer (grow-only). */
  private readonly buffers: Float32Array[] = [];
  /** The store's own past keys per layer, replaced in this step's feeds (see `restore`). */
  private replaced: readonly (Float32Array | undefined)[] = NONE_REPLACED;
  private replacedPast = 0;

  constructor(
    private readonly layout: KvLayout,
    private readonly rope: RotaryEmbedding & { readonly ropeScale?: number },
    batchSize: number,
  ) {
    this.fed = Array.from({ length: batchSize }, () => new Map());
    const half = rope.rotaryDim / 2;
    this.inverseFrequency = new Float64Array(half);
    // Linear rope scaling divides positions by its factor, i.e. every frequency.
    const scale = rope.ropeScale ?? 1;
    for (let i = 0; i < half; i++) this.inverseFrequency[i] = rope.theta ** ((-2 * i) / rope.rotaryDim) / scale;
  }

  /**
   * Forgets every recorded position and the keys of the step in progress (a fresh cache, e.g.
   * after failover: {@link restore} must not copy the old store's keys into the new one's presents),
   * and lets go of the key buffers: a run given up on after its timeout may still read the rotated
   * keys it was fed, so the next steps write into new ones.
   */
  reset(): void {
    for (const m of this.fed) m.clear();
    this.buffers.length = 0;
    this.replaced = NONE_REPLACED;
    this.replacedPast = 0;
  }

  /** Records the position ids the tokens at absolute indices `first…` are fed with now. */
  record(first: number, positionIds: BackendTensor): void {
    // int64, or int32 where the graph declares it (Number() reads either).
    const data = positionIds.data as BigInt64Array | Int32Array;
    const seq = positionIds.dims[1]!;
    for (let r = 0; r < this.fed.length; r++) {
      for (let c = 0; c < seq; c++) this.fed[r]!.set(first + c, Number(data[r * seq + c]!));
    }
  }

  /**
   * Replaces the past keys in `feeds` by copies rotated to their cache positions. `slots` holds
   * each kv head's absolute slot indices (as the store reports them); `pads` the padding per row.
   * Returns the tensors it created (the caller disposes them after the run), none when every key
   * already sits at its cache position.
   */
  apply(
    session: Pick<InferenceSession, 'createTensor'>,
    feeds: Record<string, BackendTensor>,
    slots: readonly (readonly number[])[],
    pads: readonly number[],
  ): BackendTensor[] {
    const { numKvHeads: heads, headDim } = this.layout;
    const batch = this.fed.length;
    const past = slots[0]?.length ?? 0;
    // Nothing of an earlier step is restored into this step's presents, whatever happens below.
    this.replaced = NONE_REPLACED;
    if (past === 0) return [];
    // delta[(r * heads + h) * past + j]: how far slot j of head h in row r must turn.
    const delta = new Float64Array(batch * heads * past);
    let moved = false;
    for (let r = 0; r < batch; r++) {
      const fed = this.fed[r]!;
      const pad = pads[r] ?? 0;
      for (let h = 0; h < heads; h++) {
        const list = slots[h] ?? slots[0]!;
        let real = 0;
        for (let j = 0; j < past; j++) {
          const index = list[j]!;
          if (index < pad) continue; // padding: masked, never attended
          const from = fed.get(index);
          const d = from === undefined ? 0 : real - from;
          real++;
          delta[(r * heads + h) * past + j] = d;
          if (d !== 0) moved = true;
        }
      }
    }
    this.forget(slots);
    if (!moved) return [];
    const replaced: (Float32Array | undefined)[] = [];
    this.replaced = replaced;
    this.replacedPast = past;

    const half = this.rope.rotaryDim / 2;
    const cos = new Float32Array(delta.length * half);
    const sin = new Float32Array(delta.length * half);
    for (let s = 0; s < delta.length; s++) {
      const d = delta[s]!;
      if (d === 0) continue;
      for (let i = 0; i < half; i++) {
        const angle = d * this.inverseFrequency[i]!;
        cos[s * half + i] = Math.cos(angle);
        sin[s * half + i] = Math.sin(angle);
      }
    }
    const created: BackendTensor[] = [];
    this.layout.pastKeyNames.forEach((name, layer) => {
      const source = feeds[name];
      if (!source) return;
      const data = source.data as Float32Array;
      let out = this.buffers[layer];
      if (!out || out.length < data.length) out = this.buffers[layer] = new Float32Array(data.length);
      const view = out.subarray(0, data.length);
      view.set(data);
      for (let s = 0; s < delta.length; s++) {
        if (delta[s] === 0) continue;
        const base = s * headDim;
        for (let i = 0; i < half; i++) {
          const c = cos[s * half + i]!;
          const n = sin[s * half + i]!;
          const x1 = data[base + i]!;
          const x2 = data[base + i + half]!;
          view[base + i] = x1 * c - x2 * n;
          view[base + i + half] = x2 * c + x1 * n;
        }
      }
      replaced[layer] = data;
      const tensor = session.createTensor('float32', view, source.dims);
      feeds[name] = tensor;
      created.push(tensor);
    });
    return created;
  }

  /**
   * Puts the store's own past keys back into this step's `present.*` keys before the store sees
   * them, so every store keeps keys at the rotation they were fed at (a store may keep the whole
   * present tensor, or only its new tail). Copies exactly: no rounding accumulates over steps.
   */
  restore(outputs: Readonly<Record<string, BackendTensor>>): void {
    const past = this.replacedPast;
    const dim = this.layout.headDim;
    this.layout.presentKeyNames.forEach((name, layer) => {
      const original = this.replaced[layer];
      const present = outputs[name];
      if (!original || !present) return;
      const data = present.data as Float32Array;
      const total = present.dims[2]!;
      const groups = original.length / (past * dim); // batch × kv heads
      for (let g = 0; g < groups; g++) data.set(original.subarray(g * past * dim, (g + 1) * past * dim), g * total * dim);
    });
    this.replaced = NONE_REPLACED;
  }

  /** Drops recorded positions of slots the store no longer holds. */
  private forget(slots: readonly (readonly number[])[]): void {
    const kept = new Set<number>();
    for (const list of slots) for (const index of list) kept.add(index);
    for (const m of this.fed) for (const index of m.keys()) if (!kept.has(index)) m.delete(index);
  }
}

/** `replaced` when no key of the step is replaced: shared, never written. */
const NONE_REPLACED: readonly (Float32Array | undefined)[] = Object.freeze([]);

/**
 * The re-rotation a run needs: one for routers with `positions: 'cache'` on graphs that take
 * past keys and position ids, none otherwise. Throws when the model is rotary in a way Weft
 * cannot reproduce (cache positions would silently distort every cached key).
 */
export function cacheKeyRerotation(
  positions: 'absolute' | 'cache',
  layout: KvLayout,
  config: { readonly modelType: string; readonly rope: (RotaryEmbedding & { readonly ropeScale: number }) | undefined; readonly ropeUnsupported?: string },
  batchSize: number,
): CacheKeyRerotation | undefined {
  if (positions !== 'cache' || !layout.hasPast || !layout.hasPositionIds) return undefined;
  if (config.ropeUnsupported) {
    throw new InvalidOptionsError(
      `positions=cache re-rotates cached keys to their new positions, which Weft cannot do for this ${config.modelType} model (${config.ropeUnsupported}). Use positions=absolute.`,
      { option: 'router' },
    );
  }
  return config.rope ? new CacheKeyRerotation(layout, config.rope, batchSize) : undefined;
}
