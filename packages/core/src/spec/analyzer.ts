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
