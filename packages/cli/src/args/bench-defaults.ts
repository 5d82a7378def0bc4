/**
 * Defaults of `weft bench`, shared by its parser and its help text (which must not load the
 * parser's imports: `weft --help` never loads onnxruntime).
 */
export const BENCH_DEFAULTS = {
  /** One intra-op thread, so results do not depend on the core count. */
  threads: 1,
  tokens: 64,
  promptTokens: 32,
  batch: 1,
  /** Timed pairs: even, so each loop runs first in exactly half of them. */
  runs: 6,
  warmup: 1,
} as const;

/** The most timed runs `--runs` takes (each one a generation by both loops: hours on a small model). */
export const MAX_RUNS = 100_000;
/** The most untimed warm-up runs `--warmup` takes. */
export const MAX_WARMUP = 10_000;
