import type { Observable } from 'rxjs';

interface Reader<T> {
  resolve(result: IteratorResult<T>): void;
  reject(error: unknown): void;
}

/**
 * Consumes an Observable as an AsyncIterable. Values are buffered until read; breaking out of the
 * loop (`return()`) or an error unsubscribes, which stops the underlying generation. Like an async
 * generator, `next()` calls may overlap (each gets the next value in order), `return()` settles
 * every pending `next()` as done, and after an error or `return()` every `next()` is done.
 */
export function toAsyncIterable<T>(source: Observable<T>): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const buffer: T[] = [];
      const readers: Reader<T>[] = [];
      let ended = false;
      let failure: { error: unknown } | undefined;
      const DONE: IteratorResult<T> = { value: undefined, done: true };
      /** Hands buffered values, then the end or the error, to waiting readers in order. */
      const settle = (): void => {
        while (readers.length > 0) {
          if (buffer.length > 0) readers.shift()!.resolve({ value: buffer.shift()!, done: false });
          else if (failure) {
            const { error } = failure;
            failure = undefined; // the first reader gets the error, later ones the end
            ended = true;
            readers.shift()!.reject(error);
          } else if (ended) readers.shift()!.resolve(DONE);
          else return;
        }
      };
      const subscription = source.subscribe({
        next: (v) => {
          if (ended) return;
          buffer.push(v);
          settle();
        },
        error: (error: unknown) => {
          if (ended) return;
          failure = { error };
          settle();
        },
        complete: () => {
          ended = true;
          settle();
        },
      });
      return {
        next(): Promise<IteratorResult<T>> {
          return new Promise<IteratorResult<T>>((resolve, reject) => {
            readers.push({ resolve, reject });
            settle();
          });
        },
        async return(): Promise<IteratorResult<T>> {
          subscription.unsubscribe();
          ended = true;
          failure = undefined;
          buffer.length = 0;
          settle();
          return DONE;
        },
      };
    },
  };
}
