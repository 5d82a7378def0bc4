import type { KvSelection } from './attention-router.js';
import type { BackendTensor, InferenceSession } from './backend.js';

/** Where the past keys and values live in a decoder graph, read from its input names and config. */
export interface KvLayout {
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  /** `past_key_values.{i}.key` per layer (empty when the graph has no past inputs). */
  readonly pastKeyNames: readonly string[];
  readonly pastValueNames: readonly string[];
  /** `present.{i}.key` per layer. */
  readonly presentKeyNames: readonly string[];
  readonly presentValueNames: readonly string[];
  /** `attentions.{i}` (or similar) outputs when the graph exports attention probabilities. */
  readonly attentionNames: readonly string[];
  readonly hasPast: boolean;
  readonly hasPositionIds: boolean;
  readonly hasAttentionMask: boolean;
  /**
   * Set when the graph is a Hugging Face Optimum merged decoder with a `use_cache_branch` input:
   * each step feeds it a bool tensor of these dims, true exactly when the fed past is non-empty.
   */
  readonly useCacheBranch?: { readonly dims: readonly number[] } | undefined;
  /**
   * Set when the graph has a `num_logits_to_keep` (or `logits_to_keep`) input, as newer Optimum
   * and transformers.js exports do: `logits` then holds only the last N positions of each row
   * ([batch, N, vocab]). Core feeds it a single integer of this type and dims: 1 in generation,
   * which reads only each row's last position (the prefill too), and the number of tokens fed
   * where every position is scored (`evaluate`).
   */
  readonly logitsToKeep?: { readonly name: string; readonly type: 'int64' | 'int32'; readonly dims: readonly number[] } | undefined;
  /**
   * Element types of `input_ids`, `attention_mask` and `position_ids`, set only when the graph
   * declares one of them int32 (core then feeds each the type declared); absent: all int64.
   */
  readonly inputTypes?:
    | { readonly inputIds: 'int64' | 'int32'; readonly attentionMask: 'int64' | 'int32'; readonly positionIds: 'int64' | 'int32' }
    | undefined;
  /**
   * `float16` when the graph's `past_key_values.*` / `present.*` are float16 (fp16 exports); absent:
   * float32. Stores see it only if they declare {@link KvCacheStore.float16Cache}; core converts
   * the cache to and from float32 for every other store, and for attention routers.
   */
  readonly pastType?: 'float32' | 'float16' | undefined;
  /** `float16` when the graph's `logits` are float16: core converts the rows it reads to float32. */
  readonly logitsType?: 'float32' | 'float16' | undefined;
}

/** What a store is told when a generation run begins. */
export interface KvCacheInit {
  readonly layout: KvLayout;
  readonly batchSize: number;
  /**
   * Used to create tensors in the backend's own representation. Where its
   * `garbageCollectedTensors` is true, a store may drop tensors without disposing them.
   */
  readonly session: Pick<InferenceSession, 'createTensor' | 'garbageCollectedTensors'>;
  /**
   * Left padding of each batch row, when the run pads its prompts to one length: the first
   * `padding[r]` slots of row r hold pad tokens, which the attention mask hides from every step
   * (one entry per row, 0 for an unpadded row). A store that groups tokens across time (e.g. KIVI's
   * per-channel key blocks) can keep them apart, so a padded row is cached exactly as the same
   * prompt alone; per-token formats may ignore it. Absent: no row is padded.
   */
  readonly padding?: readonly number[] | undefined;
}

/**
 * Holds the past keys/values between steps in its own format (full precision, quantised,
 * evicted…). The loop never touches KV tensors directly: it asks the store for the feeds of the
 * next step and hands it every step's `present.*` outputs.
 */
export interface KvCacheStore {
  /** The version of this contract the store implements. */
  readonly specificationVersion: 'v1';
  /** Shown in the `start` event's `kv` and in errors, e.g. `int4`. */
  readonly name: string;
  /**
   * `true` when the store serves a float16 graph cache itself: begun with a layout whose
   * `pastType` is `float16`, it takes float16 presents and feeds a float16 past. Otherwise core
   * begins it with a float32 layout and converts the whole cache both ways every step (costly on
   * long contexts; docs/kv-cache.md). Core converts for every store while a router re-rotates keys.
   */
  readonly float16Cache?: boolean;
  /**
   * Called once per run before the first step. A store whose entry has the `reusable` capability
   * is begun again, after `dispose`, for a later run: `begin` must then reset every bit of state.
   */
  begin(init: KvCacheInit): void;
  /** Number of cached positions (the past length the next step sees). */
  readonly length: number;
  /**
   * Feeds `past_key_values.*` for the next step. The tensors stay owned by the store: the loop
   * does not dispose them, and the store must keep them valid until the next `append`.
   */
  materialize(): Readonly<Record<string, BackendTensor>>;
  /**
   * Takes ownership of this step's `present.*` outputs (keyed by output name); each holds
   * `past + seq` positions. The store disposes what it does not keep, unless `begin`'s
   * `session.garbageCollectedTensors` is true: then it may simply drop them. Presents that do not
   * fit the layout (missing, other dims, lengths that disagree) are refused with an error that
   * leaves the store as it was: no layer takes tokens unless every layer can. The same holds for
   * values the store's format cannot hold (a `RangeError`, e.g. past fp16's range), whether
   * they are refused as they come or when the store later moves tokens to another precision.
   */
  append(presents: Readonly<Record<string, BackendTensor>>): void;
  /** Bytes held at rest right now (data + any scales, zero points, residual buffers). */
  bytes(): number;
  /**
   * Absolute position of each slot, per key/value head. Appended slots take the next positions
   * in the order tokens were seen (evicted positions are not reused). Stores that never evict may
   * omit it: slots are then positions 0..length-1.
   */
  slotPositions?(): readonly (readonly number[])[];
  /**
   * Keeps only the selected slots (an attention router's choice): the rest are no longer fed to
   * the model. Their memory may stay with the store for later slots (freed by `dispose`). Stores
   * without it cannot be combined with evicting routers.
   */
  retain?(selection: KvSelection): void;
  /**
   * Drops every position from `length` on (`0 < length <= this.length`), as though they had never
   * been appended: `length` becomes `length`, and the next appended slot takes position `length`.
   * Called only on a store that has evicted nothing (slots are positions 0..length-1), between
   * runs, when a prompt cache (`PromptCache`) reuses the first `length` tokens of a cached conversation whose
   * later tokens the next prompt does not share. Without it, such a prompt is prefilled in full.
   * It is read each time it is needed, so a store that can cut exactly only in some states (say,
   * while no position has been quantised) may leave it undefined in the others. A `truncate` that
   * throws fails that run with a `PluginError`; the cache drops the store, so it must stay disposable.
   */
  truncate?(length: number): void;
  /** Frees every tensor and buffer. Idempotent; also called on an instance never begun (a run that ends, or reuses a prompt cache's store, before its store begins). */
  dispose(): void;
}
