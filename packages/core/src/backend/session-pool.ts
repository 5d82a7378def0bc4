import { BackendError } from '../errors/backend-error.js';
import { ModelDisposedError } from '../errors/model-disposed-error.js';
import { WeftError } from '../errors/weft-error.js';
import { DISPOSE_TIMEOUT_MS } from '../model/load-timeouts.js';
import type { BackendAdapter, BackendTensor, InferenceSession, ModelSource, SessionOptions } from '../spec/backend.js';
import { describeCause } from '../util/describe-cause.js';
import { withDeadline } from '../util/with-deadline.js';
import { waitAtMost } from './bounded-wait.js';
import { CircuitBreaker, type BreakerOptions } from './circuit-breaker.js';
import { LateSessions, releaseOnArrival } from './late-sessions.js';
import { disposeAll } from './run-waiter.js';

/** What {@link SessionPool.run} passes to a session's `run`: the signal that stops waiting for it. */
export interface PoolRunOptions {
  readonly signal?: AbortSignal;
}

/**
 * A check of a run's outputs that {@link SessionPool.run} applies before its circuit breaker counts
 * the run a success: outputs it rejects (it throws, having disposed them) count as the backend's
 * failure, as a run that threw does. One object per request, reused for every run (no closure
 * per step).
 */
export interface OutputsCheck {
  check(outputs: Readonly<Record<string, BackendTensor>>, backend: string): void;
}

/**
 * Told the session's own `run` promise when {@link SessionPool.run} wraps it (a run timeout): a
 * caller that gives up on the wrapped promise can then wait for the run itself, which still reads
 * its feeds and the KV cache after the timeout fired. One object per request (a `RunWaiter`).
 */
export interface RunTracker {
  started(run: Promise<unknown>): void;
  /**
   * Told, as the run timeout fires and before the returned promise rejects, that the caller is
   * about to give up on `run` (the promise {@link started} gave) while it goes on: what it was fed
   * must stay alive until it settles (see {@link SessionPool.releaseAfter}).
   */
  timedOut?(run: Promise<unknown>): void;
}

/** A backend and the session the pool opened on it. */
export interface ActiveSession {
  readonly backend: string;
  readonly session: InferenceSession;
}

interface Candidate {
  readonly adapter: BackendAdapter;
  readonly breaker: CircuitBreaker;
  session?: Promise<InferenceSession>;
  /** Why its latest run failed (one line), for the error that ends a failover with no backend left. */
  lastFailure?: string;
}

/**
 * The sessions a model may run on: the chosen backend first, then fallbacks in order. Each
 * backend has a circuit breaker; `run` applies the per-run timeout; `failover` records a failure
 * and opens the next usable session.
 */
export class SessionPool {
  private readonly candidates: Candidate[];
  private active: ActiveSession;
  private released = false;
  /** Aborted by `release`: a fallback's session still opening is no longer waited for (and is released when it arrives). */
  private readonly closing = new AbortController();
  /** Fallback sessions still opening when the pool was released: released as they arrive, and waited for by `release`. */
  private readonly late = new LateSessions();
  /** The message of the `ModelDisposedError`s once released. */
  private disposedMessage = DISPOSED_MID_RUN;
  /** Each session's release, started once. */
  private readonly releases = new WeakMap<InferenceSession, Promise<void>>();
  /** The half-open trials `acquire` and `failover` gave out, by what they returned, for {@link handBack}. */
  private readonly trials = new WeakMap<ActiveSession, { readonly breaker: CircuitBreaker; readonly trial: number }>();

  constructor(
    primary: ActiveSession & { readonly adapter: BackendAdapter },
    fallbacks: readonly BackendAdapter[],
    /** The graph, for the fallbacks' sessions (undefined when there are none). */
    private readonly source: ModelSource | undefined,
    private readonly options: {
      readonly session?: SessionOptions;
      readonly runTimeoutMs?: number;
      readonly breaker?: BreakerOptions;
      /** Longest a fallback's `createSession` may take (default 5 min); a late session is released. */
      readonly sessionTimeoutMs?: number;
      /**
       * Longest {@link release} waits for the sessions' `release()` (which waits for runs in
       * flight) and for fallback sessions still opening (default 10 s); see {@link release}.
       */
      readonly disposeTimeoutMs?: number;
    } = {},
  ) {
    const breaker = (): CircuitBreaker => new CircuitBreaker(options.breaker);
    this.candidates = [
      { adapter: primary.adapter, breaker: breaker(), session: Promise.resolve(primary.session) },
      ...fallbacks.map((adapter) => ({ adapter, breaker: breaker() })),
    ];
    this.active = { backend: primary.backend, session: primary.session };
  }

  /** The session runs currently go to. */
  get current(): ActiveSession {
    return this.active;
  }

  /** Backends the pool may use, in order, with their breaker states. */
  get backends(): readonly { readonly name: string; readonly state: string }[] {
    return this.candidates.map((c) => ({ name: c.adapter.name, state: c.breaker.state }));
  }

  /** `failover.runTimeoutMs`: how long a run may take before it counts as failed (undefined: no limit). */
  get runTimeoutMs(): number | undefined {
    return this.options.runTimeoutMs;
  }

  /** Whether `release` was called: runs, acquires and failovers then fail with `ModelDisposedError`. */
  get closed(): boolean {
    return this.released;
  }

  /** Aborts when `release` is called (its reason the `ModelDisposedError` later runs fail with). */
  get disposal(): AbortSignal {
    return this.closing.signal;
  }

  /** `{ signal: disposal }`, the one run options object of every generation whose request has no signal. */
  readonly disposalRunOptions: { readonly signal: AbortSignal } = { signal: this.closing.signal };

  /** Generations waiting for their forward passes (`RunWaiter`s): `release` halts each. */
  readonly waiters = new Set<{ halt(): void }>();

  /** The {@link releaseAfter} releases still waiting for their runs: {@link release} waits for them. */
  private readonly lateReleases = new Set<Promise<void>>();

  /**
   * Calls `release` once `run` (a session's own promise for a run given up on after its timeout)
   * settles, fulfilled or rejected: what the run was fed (its feeds, the KV cache it read) is freed
   * then, never while the run may still read it. A run that never settles never calls it. Until
   * then {@link release} (`model.dispose()`) waits for it, within `disposeTimeoutMs`. `release`
   * must not throw.
   */
  releaseAfter(run: Promise<unknown>, release: () => void): void {
    const releasing: Promise<void> = Promise.resolve(run)
      .then(nothing, nothing)
      .then(() => {
        this.lateReleases.delete(releasing);
        try {
          release();
        } catch {
          // Nobody is left to tell (see the contract above).
        }
      });
    this.lateReleases.add(releasing);
  }

  /**
   * One generation step's run: like {@link run}, but with a single backend and no run timeout there
   * is nothing to count or bound, so it returns the session's own promise, one microtask turn
   * sooner than `run` on every step. Its rejection may then be the backend's own error: pass any
   * rejection through {@link failure}; and its value may be what the session resolved with, not
   * checked: pass it through {@link outputsOf}. `options` goes to the session's `run` as it is.
   * `check` goes to {@link run} where it has a breaker to report to; with a single backend it is
   * not applied here, so the caller applies it to the value too (a few comparisons).
   */
  runStep(
    active: ActiveSession,
    feeds: Readonly<Record<string, BackendTensor>>,
    options?: PoolRunOptions,
    check?: OutputsCheck,
    track?: RunTracker,
  ): Promise<Record<string, BackendTensor>> {
    if (this.candidates.length !== 1 || this.options.runTimeoutMs !== undefined || this.released) return this.run(active, feeds, options, check, track);
    try {
      return active.session.run(feeds, options);
    } catch (cause) {
      return Promise.reject(cause);
    }
  }

  /**
   * `outputs`, the value of a {@link runStep}, when it is an object; else (a session whose `run`
   * resolved with null, undefined or another non-object) throws the `BackendError` {@link run}
   * rejects with for it. One test, so it costs nothing per step.
   */
  outputsOf(active: ActiveSession, outputs: Record<string, BackendTensor>): Record<string, BackendTensor> {
    if (typeof outputs !== 'object' || outputs === null) throw noOutputsError(active.backend, outputs);
    return outputs;
  }

  /**
   * The typed error for a rejection of {@link runStep} or {@link run}: `ModelDisposedError` once
   * the pool was released (whatever the backend rejected with), Weft's own errors as they are,
   * otherwise a `BackendError`.
   */
  failure(active: ActiveSession, cause: unknown): Error {
    if (this.released) return ModelDisposedError.isInstance(cause) ? cause : this.disposedError();
    if (WeftError.isInstance(cause)) return cause;
    return new BackendError(`The ${active.backend} backend failed: ${describeCause(cause)}`, { backend: active.backend, cause });
  }

  /**
   * Runs on `session`, failing with a `BackendError` when it throws or exceeds the timeout, or with
   * `ModelDisposedError` when the pool was released before or during the run (which no breaker
   * counts as a backend failure). `options.signal` goes to the session's `run`; a run that fails
   * once it has aborted (the caller stopped waiting for it: it may have been cancelled) rejects
   * with its own error, and no breaker counts it either. Outputs that `check` rejects (logits of
   * the wrong size, say) reject with its error and count as the backend's failure, not its success.
   * `track` is told the session's own promise, which outlives the returned one when the run times out.
   */
  run(
    active: ActiveSession,
    feeds: Readonly<Record<string, BackendTensor>>,
    options?: PoolRunOptions,
    check?: OutputsCheck,
    track?: RunTracker,
  ): Promise<Record<string, BackendTensor>> {
    if (this.released) return Promise.reject(this.disposedError());
    const candidate = this.candidates.length === 1 ? this.candidates[0] : this.candidates.find((c) => c.adapter.name === active.backend);
    const timeoutMs = this.options.runTimeoutMs;
    const startedAt = candidate?.breaker.epoch;
    let work: Promise<Record<string, BackendTensor>>;
    try {
      work = options === undefined ? active.session.run(feeds) : active.session.run(feeds, options);
      if (timeoutMs !== undefined) {
        track?.started(work);
        work = withTimeout(work, timeoutMs, active.backend, track);
      }
    } catch (cause) {
      work = Promise.reject(cause);
    }
    // One continuation rather than an async wrapper: each await is another turn before the loop
    // sees the outputs, and the first token waits on it.
    return work.then(
      (outputs) => {
        // A run that resolved with no outputs object failed like one that threw (one test per run).
        if (typeof outputs !== 'object' || outputs === null) {
          if (this.released) throw this.disposedError();
          if (options?.signal?.aborted === true) throw noOutputsError(active.backend, outputs);
          candidate?.breaker.failure();
          const error = noOutputsError(active.backend, outputs);
          if (candidate) candidate.lastFailure = NO_OUTPUTS;
          throw error;
        }
        if (check !== undefined) {
          try {
            check.check(outputs, active.backend);
          } catch (error) {
            if (this.released) throw this.disposedError();
            candidate?.breaker.failure();
            if (candidate) candidate.lastFailure = describeCause(error);
            throw error;
          }
        }
        candidate?.breaker.success(startedAt);
        return outputs;
      },
      (cause: unknown) => {
        if (this.released) throw this.disposedError();
        if (options?.signal?.aborted === true) throw cause;
        candidate?.breaker.failure();
        const why = describeCause(cause);
        if (candidate) candidate.lastFailure = why;
        throw new BackendError(`The ${active.backend} backend failed: ${why}`, { backend: active.backend, cause });
      },
    );
  }

  /**
   * The first backend in priority order whose breaker allows a call (an open breaker that has
   * cooled down gets its half-open trial here: {@link handBack} returns it unused), opening its
   * session if needed.
   */
  async acquire(): Promise<ActiveSession> {
    if (this.released) throw this.disposedError();
    const reasons: string[] = [];
    for (const candidate of this.candidates) {
      const active = await this.open(candidate, reasons);
      if (active) return active;
    }
    throw new BackendError(`No backend is usable (${reasons.join('; ')}).`);
  }

  /**
   * For a request that ends without having run on `active` (from {@link acquire} or
   * {@link failover}): if taking it was its backend's half-open trial, the trial goes back, and the
   * breaker is half-open again at once, so the next request gets it. Otherwise does nothing; a
   * trial whose run reported back is no longer out.
   */
  handBack(active: ActiveSession): void {
    const taken = this.trials.get(active);
    if (taken === undefined) return;
    this.trials.delete(active);
    taken.breaker.handBack(taken.trial);
  }

  /**
   * Picks the next backend after `failed` whose breaker allows a call and whose session opens,
   * passing over the backends in `failedThisStep`: a step that failed on every backend fails the
   * same way on each (a graph that refuses the feeds, say), so it ends the stream instead of going
   * round the backends until every breaker is open, which would also stop the model's other
   * streams. Throws a `BackendError` listing why each candidate was unusable when none is left.
   */
  async failover(failed: string, failedThisStep: ReadonlySet<string> = new Set()): Promise<ActiveSession> {
    if (this.released) throw this.disposedError();
    const start = this.candidates.findIndex((c) => c.adapter.name === failed);
    const why = (c: Candidate | undefined): string => (c?.lastFailure === undefined ? '' : ` (${c.lastFailure})`);
    const reasons: string[] = [`${failed}: failed during the run${why(this.candidates[start])}`];
    const order = [...this.candidates.slice(start + 1), ...this.candidates.slice(0, Math.max(0, start))];
    for (const candidate of order) {
      if (failedThisStep.has(candidate.adapter.name)) {
        reasons.push(`${candidate.adapter.name}: failed the same step${why(candidate)}`);
        continue;
      }
      const active = await this.open(candidate, reasons);
      if (active) return active;
    }
    throw new BackendError(`No backend left to continue on (${reasons.join('; ')}).`, { backend: failed });
  }

  private async open(candidate: Candidate, reasons: string[]): Promise<ActiveSession | undefined> {
    const name = candidate.adapter.name;
    // Non-zero when this call took the half-open trial.
    const trial = candidate.breaker.take();
    if (trial === undefined) {
      reasons.push(`${name}: circuit open${candidate.lastFailure === undefined ? '' : ` (last failure: ${candidate.lastFailure})`}`);
      return undefined;
    }
    const opening = (candidate.session ??= this.createSession(candidate.adapter));
    let session: InferenceSession;
    try {
      session = await opening;
    } catch (error) {
      if (ModelDisposedError.isInstance(error)) throw error;
      // Streams failing over at once wait on the same opening: its failure counts once, and only
      // the first to see it forgets it (a later attempt may already have started another).
      if (candidate.session === opening) {
        delete candidate.session;
        candidate.breaker.failure();
      }
      reasons.push(`${name}: ${describeCause(error)}`);
      return undefined;
    }
    // Released while this waited for the session (even one open long ago, a turn away): `release`
    // may have missed a session that was still opening, so it is released here, once in all.
    if (this.released) {
      await this.releaseSession(session).catch(() => undefined);
      throw this.disposedError();
    }
    this.active = { backend: name, session };
    if (trial !== 0) this.trials.set(this.active, { breaker: candidate.breaker, trial });
    return this.active;
  }

  private disposedError(): ModelDisposedError {
    return new ModelDisposedError(this.disposedMessage);
  }

  /** Releases `session` once, however many callers reach it (`release` and {@link open} may both). */
  private releaseSession(session: InferenceSession): Promise<void> {
    let releasing = this.releases.get(session);
    if (releasing === undefined) {
      try {
        releasing = Promise.resolve(session.release());
      } catch (cause) {
        releasing = Promise.reject(cause);
      }
      this.releases.set(session, releasing);
    }
    return releasing;
  }

  /**
   * A fallback's session, bounded in time and checked to be a session. One that arrives after the
   * wait ended is released when it arrives; when the wait ended because the pool was released, it
   * goes to {@link late}, which {@link release} waits for.
   */
  private async createSession(adapter: BackendAdapter): Promise<InferenceSession> {
    const ms = this.options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
    const source = this.source;
    if (source === undefined) throw new Error('the pool was made without the graph, so it cannot open other sessions');
    let creation: unknown;
    let session: unknown;
    try {
      session = await withDeadline(() => (creation = adapter.createSession(source, this.options.session)), {
        ms,
        signal: this.closing.signal,
        onTimeout: () => new Error(`createSession() did not finish within ${ms} ms`),
      });
    } catch (error) {
      // Released while it opened: `release` waits for it. Timed out: released whenever it comes.
      // (Also when the creation itself failed: there is then nothing to release.)
      if (creation !== undefined) {
        if (this.released) this.late.add(creation, this.disposeTimeoutMs);
        else releaseOnArrival(creation);
      }
      throw error;
    }
    if (typeof (session as Partial<InferenceSession> | null)?.run !== 'function') {
      this.late.add(session, this.disposeTimeoutMs);
      throw new Error('createSession() did not return a session');
    }
    return session as InferenceSession;
  }

  private get disposeTimeoutMs(): number {
    return this.options.disposeTimeoutMs ?? DISPOSE_TIMEOUT_MS;
  }

  /**
   * Releases every session the pool opened; later runs fail with `ModelDisposedError`, whose
   * message is `message` (the first call's; default: the model was disposed, load it again), and
   * {@link disposal} aborts. Resolves once every session's `release()` has settled (a backend's
   * release waits for its runs in flight: `RunsInFlight`), every fallback session still opening
   * has arrived and been released, and what runs past their timeout were fed has been freed as
   * they settled ({@link releaseAfter}); rejects with the first release's error. A backend that never
   * settles is waited for at most `disposeTimeoutMs` (default 10 s): `release` then resolves, and
   * its sessions are released when they can be (a session that arrives is released then; a
   * release waiting for a run frees the native session once that run settles).
   */
  release(message: string = DISPOSED_MID_RUN): Promise<void> {
    if (!this.released) this.disposedMessage = message;
    this.released = true;
    this.closing.abort(this.disposedError());
    // Generations waiting for a pass, or for a session to open, stop waiting now, and their runs' signals abort.
    for (const waiter of this.waiters) waiter.halt();
    const everything = (async () => {
      const results = await Promise.allSettled(
        this.candidates.map(async (c) => {
          const session = await c.session?.catch(() => undefined);
          if (session) await this.releaseSession(session);
        }),
      );
      // By now every fallback's wait for its session has ended, and a session still opening is in `late`.
      await this.late.settled();
      // What timed-out runs were fed, freed as they settle (a release added meanwhile is waited for too).
      while (this.lateReleases.size > 0) await Promise.all(this.lateReleases);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    })();
    return waitAtMost(everything, this.disposeTimeoutMs).then(() => undefined);
  }
}

const DEFAULT_SESSION_TIMEOUT_MS = 5 * 60_000;
const NO_OUTPUTS = 'run() returned no outputs';

/** The error for a session whose `run` resolved with `got`, which is no outputs object. */
function noOutputsError(backend: string, got: unknown): BackendError {
  return new BackendError(`The ${backend} backend failed: its session's run() returned no outputs (${got === null ? 'null' : typeof got}), where it must return an object of output tensors.`, { backend });
}
const DISPOSED_MID_RUN = 'The model was disposed while it was running; load it again to use it.';

function withTimeout<T extends Record<string, BackendTensor>>(work: Promise<T>, ms: number, backend: string, track: RunTracker | undefined): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timedOut = false;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      // Before the rejection: the caller then keeps what the run was fed until it settles.
      track?.timedOut?.(work);
      reject(new Error(`session.run on ${backend} took longer than ${ms} ms`));
    }, ms);
  });
  // A run that finishes after its timeout still owns tensors: free them when they arrive.
  work.then((outputs) => {
    // Whatever it resolved with (not always an outputs object), and never throwing: nobody is left to tell.
    if (timedOut) disposeAll(outputs);
  }, () => {});
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

const nothing = (): void => {};
