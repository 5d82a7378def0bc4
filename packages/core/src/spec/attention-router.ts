import type { ForwardObservation } from './analyzer.js';
import type { KvLayout } from './kv-cache.js';

/**
 * Which cache slots the next step keeps. `shared`: the same slots for every key/value head.
 * `per-head`: one ascending slot list per key/value head, all of equal length (only for batches
 * without padding). Slot indices refer to the store's current slots, ascending.
 */
export type KvSelection =
  | { readonly kind: 'shared'; readonly slots: readonly number[] }
  | { readonly kind: 'per-head'; readonly slots: readonly (readonly number[])[] };

/** Signals a router decides on, after the store has appended the step's keys and values. */
export interface RoutingContext {
  readonly step: number;
  readonly batchSize: number;
  readonly layout: KvLayout;
  /** Slots the store holds now. */
  readonly cacheLength: number;
  /**
   * Absolute position of each slot (per key/value head; every head has the same list unless an
   * earlier per-head selection made them differ).
   */
  readonly slotPositions: readonly (readonly number[])[];
  /** Tokens seen so far, i.e. the absolute position of the next token. */
  readonly nextPosition: number;
  /**
   * Per-slot importance from this step's observation: what the request's first analyzer with an
   * `importance()` method returned (e.g. `attention-importance`); absent when no analyzer has one.
   */
  readonly importance?: Float32Array;
  /**
   * Left padding per row, as in {@link ForwardObservation.padding}: in row `r`, a slot whose
   * absolute position (`slotPositions`) is below `padding[r]` holds padding (masked for that row).
   * Absent: no row is padded.
   */
  readonly padding?: readonly number[];
  /**
   * Per row: whether it was fed real tokens this step (the step's
   * {@link ForwardObservation.active}); a finished row no longer needs any slot. Absent: every
   * row is active.
   */
  readonly active?: readonly boolean[];
}

/**
 * Chooses which cached positions the model sees from the next step on (full, window, sinks +
 * window, heavy hitters…). Evicted slots are removed from the tensors the model receives, not
 * just masked (`KvCacheStore.retain`); a store may keep their memory to reuse for later slots
 * rather than free it before `dispose`.
 */
export interface AttentionRouter {
  readonly specificationVersion: 'v1';
  readonly name: string;
  /**
   * `absolute` (default): position_ids keep counting every token seen. `cache`: new tokens take
   * positions within the cache (StreamingLLM), for contexts past the trained length.
   */
  readonly positions?: 'absolute' | 'cache';
  /**
   * `true` when the router can take over a cache that an earlier request filled (and routed) and
   * route it as though it had from the start: it chooses from the routing context alone (slot
   * positions, next position, budget), keeping no state between steps. Required of the router of a
   * request with a `promptCache` (with `positions: 'absolute'`); e.g. `full`, `window`,
   * `sink-window` and `strided` from `@weft/plugin-attention`.
   */
  readonly resumesCache?: boolean;
  /** Sees every forward pass (logits, present.*, attentions.* when exported) before `select`. */
  observe?(observation: ForwardObservation): void;
  /** The slots to keep, or `undefined` to keep every slot. */
  select(context: RoutingContext): KvSelection | undefined;
}
