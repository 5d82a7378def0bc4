import { median } from '@weft/core';

/** Timing of one generation run, measured the same way for both engines. */
export interface RunTiming {
  /** Start of the call to the first token (the prefill step). */
  readonly ttftMs: number;
  /** Median time between consecutive tokens after the first (decode steps). */
  readonly msPerToken: number;
  /** Tokens of all rows per second of wall time, start to last token. */
  readonly tokensPerSecond: number;
}

/** Timing from the start time and the time each step's tokens were ready. */
export function runTiming(start: number, tokenTimes: readonly number[], batch: number): RunTiming {
  const last = tokenTimes.at(-1) ?? start;
  const gaps = tokenTimes.slice(1).map((t, i) => t - tokenTimes[i]!);
  return {
    ttftMs: (tokenTimes[0] ?? start) - start,
    msPerToken: median(gaps),
    tokensPerSecond: last > start ? (tokenTimes.length * batch * 1000) / (last - start) : 0,
  };
}

/** Medians over runs of each timing field. */
export function medianTiming(runs: readonly RunTiming[]): RunTiming {
  return {
    ttftMs: median(runs.map((r) => r.ttftMs)),
    msPerToken: median(runs.map((r) => r.msPerToken)),
    tokensPerSecond: median(runs.map((r) => r.tokensPerSecond)),
  };
}
