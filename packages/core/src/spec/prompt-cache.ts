/**
 * Keeps one conversation's KV cache between generations of a model, so that a request whose
 * prompt starts with the ids a previous generation fed (its prompt and the reply it generated)
 * feeds only the rest: a chat's next turn prefills the new message, not the whole history.
 *
 * Made by `model.createPromptCache()` and passed as a request's `promptCache`. After each run on
 * one prompt that ends without error, the cache holds that run's store and the ids it fed; the
 * next run reuses the longest common prefix of those ids and its prompt (at least one prompt token
 * is always fed, for its logits), cutting the store back where they part (a store without
 * `truncate` then starts over). It starts over too when the run's store entry or options differ,
 * or when the run is on another backend session (after a failover). The reused run's `start`
 * event says how many prompt tokens it took from the cache (`cachedTokens`).
 *
 * With the default `fp32` store, the reply is the one a run without the cache would give, up to
 * floating-point rounding between a batched prefill and step-by-step decoding. With a lossy store
 * (a quantised one), reused tokens keep the values they were stored with.
 *
 * One generation uses a cache at a time: a request passing a cache another live run is using is
 * refused (an `InvalidOptionsError`), and one made while a stopped run's forward pass is still
 * pending (its stream ended at once, on an abort or unsubscription) waits for that pass to settle.
 * A cache works with one prompt per request, and with an attention router only if it declares
 * `resumesCache` (positional ones such as `sink-window` do): once a router has evicted positions,
 * the cache is only ever extended. Both refused otherwise.
 * A run stopped before it starts leaves the cache as it was. A graph without past inputs
 * recomputes every step: the cache then holds nothing. `model.dispose()` frees its caches; one the
 * application drops without `dispose()` is freed once it is garbage-collected.
 */
export interface PromptCache {
  /** The ids whose keys and values the cache holds, in the order they were fed (empty when it holds none). */
  readonly ids: readonly number[];
  /** Whether a generation is using the cache right now. */
  readonly busy: boolean;
  /** Bytes the held cache takes at rest (its store's `bytes()`; 0 when it holds none). */
  bytes(): number;
  /**
   * Frees what the cache holds; the next run starts over. While a generation uses the cache, what
   * that run leaves is freed instead of kept.
   */
  clear(): void;
  /**
   * Frees what the cache holds; a request passing it afterwards is refused. Idempotent. While a
   * generation uses it, that run finishes and frees its store.
   */
  dispose(): void;
}
