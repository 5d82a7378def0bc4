import { HALTED, type RunWaiter } from './run-waiter.js';
import type { ActiveSession, SessionPool } from './session-pool.js';

/**
 * `sessions.acquire()`, or undefined once `waiter` halts first (an abort need not wait for a
 * fallback's session to open, which may take up to `sessionTimeoutMs`): the session it takes
 * later then goes back unused. Undefined at once, acquiring nothing, when it has already halted.
 */
export async function acquireUnlessHalted(sessions: SessionPool, waiter: RunWaiter): Promise<ActiveSession | undefined> {
  // Already stopped (an aborted signal): take no half-open trial, open no session nobody will use.
  if (waiter.stopped) return undefined;
  const taking = sessions.acquire();
  try {
    return await waiter.until(taking);
  } catch (stopped) {
    if (stopped !== HALTED) throw stopped;
    handBackLater(sessions, taking);
    return undefined;
  }
}

/** Hands back the session `taking` brings (its half-open trial, if it took one), whenever it does. */
export function handBackLater(sessions: SessionPool, taking: Promise<ActiveSession>): void {
  taking.then(
    (late) => sessions.handBack(late),
    () => undefined,
  );
}
