import type { Observable } from 'rxjs';

/**
 * Consumes an Observable as an AsyncIterable. Values are buffered until read; breaking out of the
 * loop (or an error) unsubscribes, which stops the underlying generation.
 */
export function toAsyncIterable<T>(source: Observable<T>): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const buffer: T[] = [];
      let finished = false;
      let failure: { error: unknown } | undefined;
      let wake: (() => void) | undefined;
      const notify = (): void => {
        wake?.();
        wake = undefined;
      };
      const subscription = source.subscribe({
        next: (v) => {
          buffer.push(v);
          notify();
        },
        error: (error: unknown) => {
          failure = { error };
          notify();
        },
        complete: () => {
          finished = true;
          notify();
        },
      });
      return {
        async next(): Promise<IteratorResult<T>> {
          for (;;) {
            if (buffer.length > 0) return { value: buffer.shift()!, done: false };
            if (failure) throw failure.error;
            if (finished) return { value: undefined, done: true };
            await new Promise<void>((resolve) => (wake = resolve));
          }
        },
        async return(): Promise<IteratorResult<T>> {
          subscription.unsubscribe();
          finished = true;
          return { value: undefined, done: true };
        },
      };
    },
  };
}
