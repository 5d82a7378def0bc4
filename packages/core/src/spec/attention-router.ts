import type { KvLayout } from './kv-cache.js';

/** Signals a router may use to decide which cached positions the next step sees. */
export interface RoutingContext {
  readonly step: number;
  /** Cached positions currently held by the store. */
  readonly cacheLength: number;
  readonly layout: KvLayout;
  /** Optional per-position importance published by analyzers (higher = keep). */
  readonly importance?: Float32Array;
}

/**
 * Chooses which cached positions each step sees (full, window, sinks + window…). Returns the
 * kept positions in ascending order, or `undefined` to keep all of them. Routers are applied by
 * KV stores that support eviction (see `@weft/plugin-attention`).
 */
export interface AttentionRouter {
  readonly specificationVersion: 'v1';
  readonly name: string;
  select(context: RoutingContext): readonly number[] | undefined;
}
