import { waitAtMost } from './bounded-wait.js';

/**
 * Sessions a backend is still creating that nobody will use: their load was aborted (by the
 * runtime's `dispose()` or the caller's signal), or their model was disposed while a fallback's
 * session opened. Each is released when it arrives; {@link settled} lets a `dispose()` wait for
 * those releases, each for a bounded time. (A creation that timed out is not added: see
 * {@link releaseOnArrival}.)
 */
export class LateSessions {
  /** Each creation's release (settled once the session arrived and was released, or failed), with its bound. */
  private readonly pending = new Set<{ readonly released: Promise<void>; readonly ms: number }>();

  /**
   * Releases the session `creation` resolves with (a `createSession` call's promise, or its value),
   * once it arrives; a creation that fails needs nothing. `ms` bounds how long {@link settled}
   * waits for it.
   */
  add(creation: unknown, ms: number): void {
    const entry = {
      released: Promise.resolve(creation).then(releaseQuietly, () => undefined),
      ms,
    };
    this.pending.add(entry);
    void entry.released.then(() => this.pending.delete(entry));
  }

  /**
   * Resolves once every session added so far has arrived and been released (or failed to open),
   * or its `ms` have passed from this call: those still missing are released when they arrive.
   * Never rejects.
   */
  async settled(): Promise<void> {
    if (this.pending.size === 0) return;
    await Promise.all([...this.pending].map((entry) => waitAtMost(entry.released, entry.ms)));
  }
}

/**
 * Releases the session `creation` resolves with once it arrives, with nobody waiting for that: for
 * a creation that outlived its `sessionTimeoutMs`, hung as far as anyone can tell, which a later
 * `dispose()` should not wait for again.
 */
export function releaseOnArrival(creation: unknown): void {
  void Promise.resolve(creation).then(releaseQuietly, () => undefined);
}

/** Calls `session.release()` if `session` has one; never throws (a late session's release has nobody to report to). */
export async function releaseQuietly(session: unknown): Promise<void> {
  try {
    const release = (session as { release?: unknown } | null | undefined)?.release;
    if (typeof release === 'function') await Reflect.apply(release, session, []);
  } catch {
    // Nothing more can be done for a session whose release fails.
  }
}
