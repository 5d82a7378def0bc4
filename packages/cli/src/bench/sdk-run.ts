import type { WeftModel } from '@weft/core';
import { runTiming, type RunTiming } from './timing.js';

/** One request of Weft's loop in the bench: its ids and timings. */
export interface EngineRun extends RunTiming {
  readonly ids: number[][];
  /** Weft only: step 0's `setupMs` (start of the run to the first forward pass). */
  readonly setupMs?: number;
  /** Milliseconds inside the backend's run per step (step 0 is the prefill): Weft's `forwardMs`. */
  readonly runMs: number[];
}

/**
 * One greedy generation through Weft's loop: `model.generate` with the ids as given, temperature
 * 0, no repetition penalty (whatever generation_config.json says) and `ignoreEos`, so it runs
 * exactly `maxTokens` steps (fewer only when `signal` aborts it). A step's tokens are ready when
 * its last row's token event arrives.
 */
export function sdkGreedyRun(model: WeftModel, prompts: readonly (readonly number[])[], maxTokens: number, signal?: AbortSignal): Promise<EngineRun> {
  const batch = prompts.length;
  const times: number[] = [];
  let setupMs: number | undefined;
  const runMs: number[] = [];
  const start = performance.now();
  return new Promise<EngineRun>((resolve, reject) => {
    model.generate({ inputIds: prompts, maxTokens, temperature: 0, repetitionPenalty: 1, ignoreEos: true, ...(signal ? { signal } : {}) }).subscribe({
      next(event) {
        if (event.type === 'token') times[event.index] = performance.now();
        else if (event.type === 'metrics') {
          runMs[event.step] = event.forwardMs;
          if (event.step === 0) setupMs = event.setupMs;
        } else if (event.type === 'done') resolve({ ids: event.rows.map((r) => [...r.ids]), ...runTiming(start, times, batch), runMs, ...(setupMs === undefined ? {} : { setupMs }) });
      },
      error: reject,
    });
  });
}
