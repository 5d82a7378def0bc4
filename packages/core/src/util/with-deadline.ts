/** How {@link withDeadline} bounds a piece of work. */
export interface DeadlineOptions<T> {
  /** Longest wait in milliseconds. */
  readonly ms: number;
  /** The error the wait rejects with when `ms` pass first. */
  readonly onTimeout: () => Error;
  /** Ends the wait early, rejecting with the signal's reason (the work is not started when already aborted). */
  readonly signal?: AbortSignal | undefined;
  /** Receives a value that arrives after the wait ended, so it can be freed (e.g. a late session). */
  readonly late?: ((value: T) => unknown) | undefined;
}

/**
 * Runs `start` and waits for its result at most `ms`, or until `signal` aborts. A synchronous
 * throw and a plain (non-promise) return value are handled like a rejected or resolved promise.
 */
export function withDeadline<T>(start: () => T | PromiseLike<T>, options: DeadlineOptions<T>): Promise<T> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason as unknown);
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const finish = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      return true;
    };
    const onAbort = (): void => {
      if (finish()) reject(signal?.reason as unknown);
    };
    const timer = setTimeout(() => {
      if (finish()) reject(options.onTimeout());
    }, options.ms);
    signal?.addEventListener('abort', onAbort, { once: true });
    let work: Promise<T>;
    try {
      work = Promise.resolve(start());
    } catch (cause) {
      work = Promise.reject(cause as unknown);
    }
    work.then(
      (value) => {
        if (finish()) resolve(value);
        else if (options.late) Promise.resolve().then(() => options.late?.(value)).catch(() => {});
      },
      (cause: unknown) => {
        if (finish()) reject(cause);
      },
    );
  });
}
