import { BackendError } from '../errors/backend-error.js';

/**
 * For backend authors: the runs of one session not yet settled, so that `release` can wait for
 * them instead of freeing a native session under a run (onnxruntime-node runs the graph a turn
 * after `run` is called; freed before then, the run failed with "Session already disposed.").
 *
 * `track` counts a run until it settles; once `close` was called, a run that still finishes
 * rejects with a `BackendError` (as a run of a released session should: Weft ends the stream of
 * a disposed model with `ModelDisposedError`, and a direct caller of `session.run` gets the
 * `BackendError`). `close` says when every tracked run has settled.
 *
 * A run that never settles holds `close` (and the release after it) forever, by design: the
 * native session is never freed under a run. A model's `dispose()` waits for that release at
 * most `disposeTimeoutMs` and then resolves; the release still happens if the run ever settles.
 */
export class RunsInFlight {
  private running = 0;
  private closed = false;
  private drained: (() => void) | undefined;
  /**
   * @param discard Given the outputs of a run that finished after `close`, which nobody receives:
   *   a backend whose tensors hold native or device memory frees them here.
   * @param backend The backend's registry name, for the `BackendError` of such a run.
   */
  constructor(
    private readonly discard?: (outputs: unknown) => void,
    private readonly backend?: string,
  ) {}
  // One pair of reactions for every run (no closure per run).
  private readonly finished = <T>(outputs: T): T => {
    this.settled();
    if (this.closed) {
      this.discard?.(outputs);
      throw new BackendError('This session was released while it ran; load the model again.', this.backend === undefined ? {} : { backend: this.backend });
    }
    return outputs;
  };
  private readonly failed = (cause: unknown): never => {
    this.settled();
    throw cause;
  };

  /** Counts `run` until it settles; the promise returned settles as `run` does (rejects if closed meanwhile). */
  track<T>(run: Promise<T>): Promise<T> {
    this.running++;
    return run.then(this.finished, this.failed) as Promise<T>;
  }

  /**
   * No run may start from now on. Returns a promise that resolves once every run tracked so far
   * has settled, or undefined when none is in flight (so a release can start in the same turn).
   */
  close(): Promise<void> | undefined {
    this.closed = true;
    if (this.running === 0) return undefined;
    return new Promise<void>((resolve) => {
      const previous = this.drained;
      this.drained = () => {
        previous?.();
        resolve();
      };
    });
  }

  /**
   * {@link close}, then `release` (the native session's own) once every tracked run has settled:
   * in the same turn when none is in flight. The promise settles as the release does, a `release`
   * that throws included.
   */
  closeThen(release: () => void | Promise<void>): Promise<void> {
    const settled = this.close();
    const now = (): Promise<void> => {
      try {
        return Promise.resolve(release());
      } catch (cause) {
        return Promise.reject(cause);
      }
    };
    return settled === undefined ? now() : settled.then(now);
  }

  private settled(): void {
    if (--this.running === 0) {
      const drained = this.drained;
      this.drained = undefined;
      drained?.();
    }
  }
}
