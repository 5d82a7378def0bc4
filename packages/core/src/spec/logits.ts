/** What a logits processor or sampler sees about the row it works on. */
export interface LogitsContext {
  /** Batch row. */
  readonly row: number;
  /** Decode step, 0 for the token right after the prompt. */
  readonly step: number;
  readonly promptIds: readonly number[];
  readonly generatedIds: readonly number[];
}

/** Rewrites next-token logits in place (penalties, bans, temperature…). */
export interface LogitsProcessor {
  /** Names it in errors. */
  readonly name: string;
  /**
   * Rewrites one row's next-token logits in place (a copy: the raw row stays intact for analyzers).
   * Returning other logits (an array not this one) fails the stream with a `PluginError`.
   */
  process(logits: Float32Array, context: LogitsContext): void;
}

/** Picks the next token from processed logits. */
export interface Sampler {
  readonly name: string;
  /** `random` yields uniform numbers in [0, 1) from the request's seeded generator. */
  sample(logits: Float32Array, context: LogitsContext & { readonly random: () => number }): number;
}
