/** Breaker states: `closed` (use), `open` (skip until the cool-down ends), `half-open` (one trial). */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** Options of a {@link CircuitBreaker}. */
export interface BreakerOptions {
  /** Consecutive failures that open the breaker (default 3). */
  readonly failureThreshold?: number;
  /** How long an open breaker waits before allowing a trial (default 30 s). */
  readonly cooldownMs?: number;
}

/**
 * Per-backend circuit breaker: opens after `failureThreshold` consecutive failures, half-opens
 * after `cooldownMs` to let one trial through (one call, however many ask at once), closes again
 * on success.
 */
export class CircuitBreaker {
  private failures = 0;
  private failuresEver = 0;
  private openedAt = 0;
  private open = false;
  /** Half-open trials taken so far, and the number of the one still out (0: none). */
  private trials = 0;
  private trialOut = 0;
  private readonly threshold: number;
  private readonly cooldownMs: number;

  constructor(options: BreakerOptions = {}, private readonly now: () => number = () => Date.now()) {
    this.threshold = options.failureThreshold ?? 3;
    this.cooldownMs = options.cooldownMs ?? 30_000;
  }

  get state(): BreakerState {
    if (!this.open) return 'closed';
    return this.now() - this.openedAt >= this.cooldownMs ? 'half-open' : 'open';
  }

  /**
   * Whether a call may go to this backend now (`take() !== undefined`). Half-open, the call that
   * gets `true` is the one trial, and the cool-down starts again: calls meanwhile are refused until
   * the trial's `success` closes the breaker, the trial is handed back ({@link handBack}), or
   * another cool-down passes (a trial that never reports back).
   */
  allows(): boolean {
    return this.take() !== undefined;
  }

  /**
   * {@link allows}, saying what the call took: `undefined` when it may not go (open), 0 when the
   * breaker is closed, else the number of the half-open trial it took, for {@link handBack}.
   */
  take(): number | undefined {
    const state = this.state;
    if (state === 'open') return undefined;
    if (state === 'closed') return 0;
    this.openedAt = this.now();
    return (this.trialOut = ++this.trials);
  }

  /**
   * Hands back `trial`, taken by a call that never reached the backend (its request was refused or
   * cancelled first): the breaker is half-open again at once, so the next call gets the trial.
   * Does nothing once that trial is no longer out: a success closed the breaker, a failure
   * restarted the cool-down, or a later trial was taken.
   */
  handBack(trial: number): void {
    if (trial === 0 || trial !== this.trialOut) return;
    this.trialOut = 0;
    this.openedAt = Number.NEGATIVE_INFINITY;
  }

  /**
   * Counts failures ever recorded. A call takes it when it starts and hands it to `success`, so
   * that a call that started before a failure cannot reset the count when it ends after it.
   */
  get epoch(): number {
    return this.failuresEver;
  }

  /**
   * A call succeeded. With `startedAt` (its `epoch` when it started), a call that overlapped a
   * later failure changes nothing: with concurrent streams, runs sent before a fault finish after
   * it, and resetting then would keep a dead backend's breaker from ever opening.
   */
  success(startedAt?: number): void {
    if (startedAt !== undefined && startedAt !== this.failuresEver) return;
    this.failures = 0;
    this.open = false;
    this.trialOut = 0;
  }

  failure(): void {
    this.failuresEver++;
    this.failures++;
    if (this.open || this.failures >= this.threshold) {
      this.open = true;
      this.openedAt = this.now();
      this.trialOut = 0;
    }
  }
}
