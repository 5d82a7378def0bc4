/**
 * Adapter registry contract. Each extension point is a *kind*; each kind holds named entries with a
 * priority and capabilities. One registry exists per Weft runtime (never global).
 */

/** A named implementation of one extension point. `create` is called per use (per request for
 * stateful kinds such as KV-cache stores, once per runtime for backends). */
export interface AdapterEntry<T, O = unknown> {
  readonly name: string;
  /** Higher wins when several entries match. Default 0. */
  readonly priority?: number;
  /** Capability flags this entry offers, e.g. `['attentions']`, `['wasm', 'webgpu']`. */
  readonly capabilities?: readonly string[];
  /** One-line description shown in listings and error messages. */
  readonly description?: string;
  create(options?: O): T;
}

/** Constraints for {@link AdapterRegistry.resolve}. */
export interface ResolveQuery {
  /** Exact entry name; when absent the highest-priority match wins. */
  readonly name?: string;
  /** Capabilities the entry must list (all of them). */
  readonly require?: readonly string[];
  /** Extra predicate; return a string to reject the entry with that reason. */
  readonly accept?: (entry: AdapterEntry<unknown>) => true | string;
}

/** Why an entry was not chosen. */
export interface Rejection {
  readonly name: string;
  readonly reason: string;
}
