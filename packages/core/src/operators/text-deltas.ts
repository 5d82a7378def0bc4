import { Observable, type OperatorFunction } from 'rxjs';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import type { GenerationEvent } from '../spec/events.js';
import { quoteValue } from '../util/describe-cause.js';

/**
 * Maps generation events to the text deltas of one row: each token's and `flush` event's text as
 * it arrives, then whatever the `done` event's final text still adds (nothing, for streams from
 * Weft's loop). `row` must be a whole number (else an `InvalidOptionsError` at once); a row the
 * request does not have fails the stream with an `InvalidOptionsError` at its `start` event (or
 * its `done` event, for a stream without one), which stops the generation.
 *
 * @example model.generate({ prompt }).pipe(textDeltas()).subscribe((t) => process.stdout.write(t));
 */
export function textDeltas(row = 0): OperatorFunction<GenerationEvent, string> {
  if (!Number.isSafeInteger(row) || row < 0) {
    throw new InvalidOptionsError(`textDeltas(row): row must be a whole number from 0 (the first prompt's), not ${quoteValue(row)}.`, { option: 'row' });
  }
  return (source) =>
    new Observable<string>((subscriber) => {
      let emitted = 0;
      return source.subscribe({
        next(event) {
          if ((event.type === 'token' || event.type === 'flush') && event.row === row && event.text !== '') {
            emitted += event.text.length;
            subscriber.next(event.text);
          } else if (event.type === 'start') {
            if (row >= event.batchSize) subscriber.error(noSuchRow(row, event.batchSize));
          } else if (event.type === 'done') {
            const result = event.rows[row];
            if (result === undefined) return subscriber.error(noSuchRow(row, event.rows.length));
            const rest = result.text.slice(emitted);
            if (rest !== '') subscriber.next(rest);
          }
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => subscriber.complete(),
      });
    });
}

function noSuchRow(row: number, rows: number): InvalidOptionsError {
  const has = rows === 1 ? 'one prompt (row 0)' : `${rows} prompts (rows 0 to ${rows - 1})`;
  return new InvalidOptionsError(`textDeltas(${row}): the request has ${has}, so there is no row ${row}.`, { option: 'row' });
}
