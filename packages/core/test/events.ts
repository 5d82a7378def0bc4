/**
 * Event helpers shared by every package's tests (imported by relative path; not published):
 * gather a run's events, and take its `done` event.
 */
import type { GenerationEvent } from '../src/spec/events.js';

/** Anything `model.generate` returns, structurally (tests of other packages use core's build). */
interface EventSource {
  subscribe(observer: { next: (e: GenerationEvent) => void; error: (e: unknown) => void; complete: () => void }): unknown;
}

/** Every event of one run, in order; rejects with the run's error. */
export function collect(events: EventSource): Promise<GenerationEvent[]> {
  const all: GenerationEvent[] = [];
  return new Promise((resolve, reject) => {
    events.subscribe({ next: (e) => all.push(e), error: reject, complete: () => resolve(all) });
  });
}

/** The run's `done` event, which must come last. */
export function done(events: readonly GenerationEvent[]) {
  const last = events.at(-1);
  if (last?.type !== 'done') throw new Error(`expected a done event last, got ${last?.type}`);
  return last;
}
