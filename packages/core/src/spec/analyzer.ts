import type { BackendTensor } from './backend.js';
import type { KvLayout } from './kv-cache.js';

/** One forward pass, as analyzers see it. Tensors are only valid during `observe`. */
export interface ForwardObservation {
  readonly step: number;
  readonly batchSize: number;
  /** Ids fed in this step, per row. */
  readonly inputIds: readonly (readonly number[])[];
  /** Next-token logits per row (the last position), before any processor ran. Read-only views of the model output: copy to keep or change them. */
  readonly logits: readonly Float32Array[];
  /**
   * Every output of the run as the graph returned it: `present.*`, and `attentions.*` when the graph
   * exports them. fp16 exports return float16 tensors: read values with `tensorFloat32(tensor)`.
   */
  readonly outputs: Readonly<Record<string, BackendTensor>>;
  readonly layout: KvLayout;
  /**
   * Left padding per row, fixed for the run: row `r`'s shorter prompt is preceded by `padding[r]`
   * pad ids at absolute positions `0…padding[r] − 1` (masked; they are not the row's text). A step
   * fed from position 0 (nothing cached before it: the first step, a failover's re-prefill, every
   * step of a model without a KV cache) feeds them first in `inputIds[r]`; later steps feed none.
   * Absent: no row is padded.
   */
  readonly padding?: readonly number[];
  /**
   * Per row: `true` while the row is generating, i.e. the ids fed for it this step (after its
   * `padding`) are real tokens; `false` from the step after it finished (EOS, length, stop), when it
   * is fed the pad id and its outputs (logits, attentions, keys of those steps) mean nothing. A row
   * that finishes at this step is still `true` here. The array is frozen and replaced, not
   * changed, when a row finishes: keeping it keeps that step's state. Absent: every row is active.
   */
  readonly active?: readonly boolean[];
}

/**
 * Observes each step after the forward pass and returns data to publish as an `analysis` event
 * (or undefined for none). Analyzers must not keep references to tensors after returning.
 * `TData` is the shape of that data: core's `analysesOf` and `isAnalysisOf` give readers the events
 * typed by it.
 */
export interface Analyzer<TData = unknown> {
  /** Names the `analysis` events it produces. */
  readonly name: string;
  /** Called after every forward pass; a value other than undefined becomes an `analysis` event's `data`. */
  observe(observation: ForwardObservation): TData | undefined;
  /**
   * Per-slot importance of the cache after this step (higher = keep), for attention routers that
   * take an importance signal (e.g. `hybrid`). Length = the store's slot count.
   */
  importance?(): Float32Array | undefined;
}
