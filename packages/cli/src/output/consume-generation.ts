import { connect, map, merge } from 'rxjs';
import { textDeltas, type AnalysisEvent, type DoneEvent, type FailoverEvent, type GenerationRequest, type StartEvent, type TokenEvent, type WeftModel } from '@weft/core';

/** Callbacks for the first row of a generation, called as events arrive. */
export interface GenerationHandlers {
  /** Each token event of row 0. */
  onToken?(event: TokenEvent): void;
  /** Row 0's text deltas (core's `textDeltas`: token texts, then any text the done event adds). */
  onText?(delta: string): void;
  /** The start event (backend choice) and failover events. */
  onEvent?(event: StartEvent | FailoverEvent): void;
  /** What the request's analyzers return, step by step. */
  onAnalysis?(event: AnalysisEvent): void;
}

export interface GenerationOutcome {
  /** The run's done event (its `durationMs` gives tokens/s). */
  readonly done: DoneEvent;
}

/**
 * Runs one generation, feeding `handlers` as events arrive, and resolves with the done event.
 * A handler that throws (e.g. a closed stdout) stops the generation and rejects.
 */
export function consumeGeneration(model: WeftModel, request: GenerationRequest, handlers: GenerationHandlers): Promise<GenerationOutcome> {
  return new Promise<GenerationOutcome>((resolve, reject) => {
    let done: DoneEvent | undefined;
    let failed = false;
    const events = model.generate(request).pipe(
      // Both branches subscribe before the run starts, so neither misses an event.
      connect((shared) => merge(shared.pipe(textDeltas(), map((text) => ({ type: 'text-delta' as const, text }))), shared)),
    );
    const subscription = events.subscribe({
      next(event) {
        if (failed) return;
        try {
          if (event.type === 'text-delta') handlers.onText?.(event.text);
          else if (event.type === 'token' && event.row === 0) handlers.onToken?.(event);
          else if (event.type === 'done') done = event;
          else if (event.type === 'start' || event.type === 'failover') handlers.onEvent?.(event);
          else if (event.type === 'analysis') handlers.onAnalysis?.(event);
        } catch (error) {
          failed = true;
          queueMicrotask(() => subscription.unsubscribe());
          reject(error);
        }
      },
      error: (error: unknown) => reject(error),
      complete() {
        if (done) resolve({ done });
        else if (!failed) reject(new Error('the generation ended without a done event'));
      },
    });
  });
}
