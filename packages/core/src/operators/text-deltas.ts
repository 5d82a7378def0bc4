import { Observable, type OperatorFunction } from 'rxjs';
import type { GenerationEvent } from '../spec/events.js';

/**
 * Maps generation events to the text deltas of one row: each token's and `flush` event's text as
 * it arrives, then whatever the `done` event's final text still adds (nothing, for streams from
 * Weft's loop).
 *
 * @example model.generate({ prompt }).pipe(textDeltas()).subscribe((t) => process.stdout.write(t));
 */
export function textDeltas(row = 0): OperatorFunction<GenerationEvent, string> {
  return (source) =>
    new Observable<string>((subscriber) => {
      let emitted = 0;
      return source.subscribe({
        next(event) {
          if ((event.type === 'token' || event.type === 'flush') && event.row === row && event.text !== '') {
            emitted += event.text.length;
            subscriber.next(event.text);
          } else if (event.type === 'done') {
            const rest = event.rows[row]?.text.slice(emitted) ?? '';
            if (rest !== '') subscriber.next(rest);
          }
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => subscriber.complete(),
      });
    });
}
