import type { BackendTensor } from '../spec/backend.js';
import type { RunTracker } from './session-pool.js';

/** What {@link RunWaiter.wait} rejects with once the waiter was halted: not an error, a way out of the step. */
export const HALTED: unique symbol = Symbol('weft.halted');

/** Where a {@link RunWaiter} is registered, so that releasing the model's sessions halts it. */
export interface RunWaiters {
  /** Aborts when the model's sessions are released (`SessionPool.disposal`). */
  readonly disposal: AbortSignal;
  /** The options a run gets when the request has no signal: `{ signal: disposal }`, one object for every run. */
  readonly disposalRunOptions: { readonly signal: AbortSignal };
  /** Waiters to halt when the sessions are released. */
  readonly waiters: Set<{ halt(): void }>;
}

/**
 * One generation's wait for its forward passes, which it can stop waiting for. Halted when the
 * request's signal aborts, when the generation is unsubscribed ({@link halt}), or when the model's
 * sessions are released (the pool halts its {@link RunWaiters.waiters}): a pending {@link wait}
 * then rejects with {@link HALTED} at once, instead of when the backend's `run` settles (which may
 * be never: a hung driver). The run itself is not stopped (onnxruntime-node cannot cancel one). Its
 * signal ({@link runOptionsFor}) is the request's own, or the model's disposal signal; for a
 * session that watches its runs' signals (`watchesRunSignal`: the web backend's queue), one of
 * the generation's own that aborts whenever the waiter halts, so a queued run nobody will read is
 * refused. {@link settled} says when the run given up on has settled, its outputs released: until
 * then it still holds its feeds and the cache it read.
 *
 * A request without a signal on a session that does not watch it costs no AbortController and no
 * listener (a controller cost 14–46 µs before the first token, measured); a request signal's
 * listener is shared by the generations using it. Per step it costs one promise and one reaction.
 */
export class RunWaiter implements RunTracker {
  /** The request's AbortSignal (of this realm) whose shared listener halts this waiter. */
  private readonly watched: AbortSignal | undefined;
  /** The request's signal, for the reason its runs' signal aborts with. */
  private readonly request: AbortSignal | undefined;
  /** The options of runs on a session that does not watch their signal: the request's, or the disposal's. */
  private readonly plainOptions: { readonly signal: AbortSignal };
  /** Aborted when the waiter halts; made for the first run on a session that watches its signal. */
  private controller: AbortController | undefined;
  private ownOptions: { readonly signal: AbortSignal } | undefined;
  /** The request signal's own listener, when it is not an AbortSignal of this realm. */
  private unlisten: (() => void) | undefined;
  /** The run being waited for, and whether its outputs are the loop's to dispose. */
  private pending: Promise<unknown> | undefined;
  /**
   * The session's own promise for the pending run, when the pool wrapped it (a run timeout,
   * {@link started}): the run still reads its feeds after the wrapped promise timed out.
   */
  private raw: Promise<unknown> | undefined;
  /** The session's own promise for a run whose timeout fired ({@link timedOut}), until {@link abandoned} takes it. */
  private timedOutRun: Promise<unknown> | undefined;
  private disposeOutputs = true;
  /** The pending {@link wait}'s (or {@link until}'s) settling functions, until it settles or the waiter halts. */
  private resolve: ((value: never) => void) | undefined;
  private reject: ((cause: unknown) => void) | undefined;
  private late: Promise<void> | undefined;
  private closed = false;
  private isStopped = false;

  /**
   * @param pool The model's sessions, which halt the waiter when released.
   * @param request The request's signal, already checked to read as one (`aborted` a boolean). An
   *   AbortSignal of this realm is watched through one listener per signal, shared by every
   *   generation using it (its `aborted` read once here); anything else is only listened to, its
   *   `aborted` never read here: one with no `addEventListener` (or whose listening throws) is
   *   still read at each step boundary by the loop, only not while a run is pending.
   */
  constructor(private readonly pool: RunWaiters, request: AbortSignal | undefined) {
    pool.waiters.add(this);
    this.request = request;
    if (pool.disposal.aborted) this.isStopped = true;
    const native = request !== undefined && typeof AbortSignal !== 'undefined' && request instanceof AbortSignal;
    if (native && watch(request, this)) {
      this.watched = request;
      this.plainOptions = { signal: request };
    } else {
      this.plainOptions = pool.disposalRunOptions;
      if (request !== undefined && !native) this.unlisten = listen(request, () => this.halt());
    }
  }

  /**
   * The options a `run` of the generation on `session` gets. The request's signal, or the model's
   * disposal signal; for a session that watches its runs' signals (`watchesRunSignal`), a signal of
   * the generation's own that aborts whenever the waiter halts (the request aborted, the
   * generation unsubscribed, the model disposed), with the request's reason, the disposal's, or
   * an `AbortError`. One object per generation either way.
   */
  runOptionsFor(session: { readonly watchesRunSignal?: boolean }): { readonly signal: AbortSignal } {
    if (session.watchesRunSignal !== true) return this.plainOptions;
    if (this.ownOptions !== undefined) return this.ownOptions;
    const controller = (this.controller = new AbortController());
    if (this.isStopped) controller.abort(this.haltReason());
    return (this.ownOptions = { signal: controller.signal });
  }

  /** Whether the waiter was halted (from then on every wait rejects with {@link HALTED}). */
  get stopped(): boolean {
    return this.isStopped;
  }

  /** Whether a run was given up on (sent, then halted before it settled): see {@link settled}. */
  get gaveUp(): boolean {
    return this.isStopped && this.pending !== undefined;
  }

  /**
   * `run` (a forward pass just sent) as the generation awaits it: settles as it does, or rejects
   * with {@link HALTED} once the waiter halts first. `disposeOutputs`: whether the outputs of a run
   * given up on are disposed when they arrive (false for a session whose tensors are garbage-collected).
   */
  wait(run: Promise<Record<string, BackendTensor>>, disposeOutputs: boolean): Promise<Record<string, BackendTensor>> {
    this.pending = run;
    this.disposeOutputs = disposeOutputs;
    if (this.stopped) return Promise.reject(HALTED);
    const waiting = new Promise<Record<string, BackendTensor>>(this.executor);
    Promise.resolve(run).then(this.fulfilled, this.rejected);
    return waiting;
  }

  /**
   * `promise` (a backend's session opening: `acquire`, `failover`) as the generation awaits it:
   * settles as it does, or rejects with {@link HALTED} once the waiter halts first, so an abort
   * does not wait for a session that may take minutes to open. What `promise` brings after that is
   * the caller's to hand back. Not a run: {@link settled} does not wait for it.
   */
  until<T>(promise: Promise<T>): Promise<T> {
    if (this.isStopped) return Promise.reject(HALTED);
    return new Promise<T>((resolve, reject) => {
      this.resolve = resolve as (value: unknown) => void;
      this.reject = reject;
      promise.then(this.fulfilled, this.rejected);
    });
  }

  /**
   * Told by the pool the session's own promise for the run it is about to wrap (`RunTracker`):
   * {@link settled} then waits for that run too, not only for the wrapped promise, which a run
   * timeout rejects while the run goes on.
   */
  started(run: Promise<unknown>): void {
    this.raw = run;
  }

  /** Told by the pool that the pending run timed out and goes on (`RunTracker`): see {@link abandoned}. */
  timedOut(run: Promise<unknown>): void {
    this.timedOutRun = run;
  }

  /**
   * The session's own promise for the run the latest {@link wait} rejected on because it timed
   * out, when it did: the run goes on, still reading its feeds and the KV cache it was given, so
   * they must be released only once it settles (`LateRelease`). Undefined after any other failure.
   * Taken: a second call returns undefined.
   */
  abandoned(): Promise<unknown> | undefined {
    const run = this.timedOutRun;
    this.timedOutRun = undefined;
    return run;
  }

  /**
   * Halts the waiter (see the class): for a generation unsubscribed while it runs. Idempotent, and
   * does nothing once {@link close}d.
   */
  halt(): void {
    if (this.closed || this.isStopped) return;
    this.halted();
  }

  /**
   * Resolves once the run given up on has settled and its outputs were released; at once when no
   * run was given up on. Never rejects.
   */
  settled(): Promise<void> {
    if (this.late !== undefined) return this.late;
    const run = this.pending;
    if (run === undefined || !this.stopped) return Promise.resolve();
    const dispose = this.disposeOutputs;
    // Outputs the wrapped promise delivers are the loop's to dispose; a run whose wrapped promise
    // timed out disposes its own late outputs (the pool does), but is still waited for.
    const released = Promise.resolve(run).then((outputs) => (dispose ? disposeAll(outputs) : undefined), () => undefined);
    const raw = this.raw;
    this.late = raw === undefined || raw === run ? released : Promise.all([released, Promise.resolve(raw).then(nothing, nothing)]).then(nothing);
    return this.late;
  }

  /** Stops listening to the request's signal and the model's disposal. */
  close(): void {
    this.closed = true;
    this.pool.waiters.delete(this);
    if (this.watched !== undefined) unwatch(this.watched, this);
    this.unlisten?.();
    this.unlisten = undefined;
  }

  // One set of functions per generation, not per step.
  private readonly executor = (resolve: (outputs: Record<string, BackendTensor>) => void, reject: (cause: unknown) => void): void => {
    this.resolve = resolve;
    this.reject = reject;
  };
  private readonly fulfilled = (outputs: unknown): void => {
    const resolve = this.resolve;
    if (resolve === undefined) return; // given up on: settled() disposes them
    this.resolve = this.reject = undefined;
    this.pending = this.raw = undefined;
    resolve(outputs as never);
  };
  private readonly rejected = (cause: unknown): void => {
    const reject = this.reject;
    if (reject === undefined) return;
    this.resolve = this.reject = undefined;
    this.pending = this.raw = undefined;
    reject(cause);
  };
  private readonly halted = (): void => {
    this.isStopped = true;
    const reject = this.reject;
    this.resolve = this.reject = undefined;
    reject?.(HALTED);
    const controller = this.controller;
    if (controller !== undefined && !controller.signal.aborted) controller.abort(this.haltReason());
  };

  /** Why the waiter halted, as its runs' signal says: the request's reason, the disposal's, or an AbortError (unsubscribed). */
  private haltReason(): unknown {
    try {
      if (this.request?.aborted === true) return this.request.reason;
    } catch {
      // A signal-like whose reads throw: the plain AbortError below.
    }
    if (this.pool.disposal.aborted) return this.pool.disposal.reason;
    return new DOMException('The generation stopped waiting for this run (unsubscribed or ended).', 'AbortError');
  }
}

/** What {@link LateRelease} frees through: the model's sessions (`SessionPool.releaseAfter`). */
export interface LateReleases {
  releaseAfter(run: Promise<unknown>, release: () => void): void;
}

/**
 * What a run given up on after its timeout was fed (its step's feeds, the KV store it read, the
 * store's instance claim), freed once the run itself settles, never before: a late run on a
 * GPU or NPU may still read those buffers. Releases added before then wait for it; one added after
 * runs at once. Counts in `activity.runs` (`model.activeRuns`) until the run has settled and
 * everything added was released, and `model.dispose()` waits for it (within `disposeTimeoutMs`).
 * A run that never settles keeps what it was fed for good: one step's feeds and one cache. Made
 * only when a run times out, so the steps that do not cost nothing.
 */
export class LateRelease {
  private readonly pending: (() => void)[] = [];
  private done = false;
  /** Resolves once the run has settled and what was added by then has been released. */
  readonly settled: Promise<void>;

  constructor(pool: LateReleases, run: Promise<unknown>, activity: { runs: number }) {
    activity.runs++;
    this.settled = new Promise<void>((resolve) => {
      pool.releaseAfter(run, () => {
        this.done = true;
        for (const release of this.pending.splice(0)) safely(release);
        activity.runs--;
        resolve();
      });
    });
  }

  /** Calls `release` once the run has settled (at once if it has); a throw is swallowed (nobody is left to tell). */
  add(release: () => void): void {
    if (this.done) safely(release);
    else this.pending.push(release);
  }

  /**
   * {@link settled}, waited for at most `ms`: `settled` rejects with `expired()` once `ms` passed
   * first (what was added is still released when the run settles). `stop` clears the timer: call it
   * once the wait is over, however it ended.
   */
  settledWithin(ms: number, expired: () => Error): { readonly settled: Promise<void>; readonly stop: () => void } {
    if (this.done) return { settled: this.settled, stop: nothing };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(expired()), ms);
    });
    return { settled: Promise.race([this.settled, timeout]), stop: () => clearTimeout(timer) };
  }
}

function safely(release: () => void): void {
  try {
    release();
  } catch {
    // A late release that fails has nobody to report to: the stream has moved on.
  }
}

/** The waiters watching each request signal, halted by its one shared listener. */
interface Watchers {
  readonly waiters: Set<RunWaiter>;
  readonly onAbort: () => void;
}

const watchers = new WeakMap<AbortSignal, Watchers>();

/**
 * Adds `waiter` to the ones `signal`'s shared abort listener halts, adding that listener when the
 * signal has no waiter yet (concurrent requests sharing a signal share it; the last one to close
 * removes it, so no listener outlives the generations). An already aborted signal halts the
 * waiter at once. False when the signal cannot be listened to.
 */
function watch(signal: AbortSignal, waiter: RunWaiter): boolean {
  try {
    // Aborted already (its listener, if any, has run): no abort event is coming.
    if (signal.aborted) {
      waiter.halt();
      return true;
    }
    let entry = watchers.get(signal);
    if (entry === undefined) {
      const waiters = new Set<RunWaiter>();
      const onAbort = (): void => {
        for (const w of waiters) w.halt();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      watchers.set(signal, (entry = { waiters, onAbort }));
    }
    entry.waiters.add(waiter);
    return true;
  } catch {
    return false;
  }
}

function unwatch(signal: AbortSignal, waiter: RunWaiter): void {
  const entry = watchers.get(signal);
  if (entry === undefined || !entry.waiters.delete(waiter) || entry.waiters.size > 0) return;
  watchers.delete(signal);
  try {
    signal.removeEventListener('abort', entry.onAbort);
  } catch {
    // A signal that cannot remove it: the listener halts nothing once its set is empty.
  }
}

const nothing = (): void => {};

/** Disposes every tensor of a late run's outputs, whatever it resolved with; never throws (nobody is left to tell). */
export function disposeAll(outputs: unknown): void {
  if (typeof outputs !== 'object' || outputs === null) return;
  for (const tensor of Object.values(outputs as Record<string, unknown>)) {
    try {
      (tensor as Partial<BackendTensor> | null)?.dispose?.();
    } catch {
      // A tensor that fails to dispose has nothing more to free here.
    }
  }
}

/** Adds `onAbort` as an abort listener of a signal-like, if it takes one; returns what removes it. */
function listen(signal: AbortSignal, onAbort: () => void): (() => void) | undefined {
  try {
    if (typeof signal.addEventListener !== 'function') return undefined;
    signal.addEventListener('abort', onAbort, { once: true });
    return () => {
      try {
        signal.removeEventListener('abort', onAbort);
      } catch {
        // A signal-like that cannot remove it: the listener does nothing once the generation ended.
      }
    };
  } catch {
    return undefined;
  }
}
