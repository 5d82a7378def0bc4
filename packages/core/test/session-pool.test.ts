import { describe, expect, it } from 'vitest';
import { BackendError, ModelDisposedError, SessionPool, type BackendTensor, type InferenceSession, type ModelSource } from '../src/index.js';
import { poolAdapter as adapter, runsAs as fakeSession } from './helpers.js';

/** The graph the pools hand their fallbacks (the fake adapters ignore it). */
const graphBytes: ModelSource = { kind: 'bytes', bytes: new Uint8Array() };

describe('SessionPool.runStep', () => {
  it('returns the session’s own promise on one backend without a run timeout, and types its failures', async () => {
    const own = Promise.resolve({});
    const session = fakeSession(() => own);
    const pool = new SessionPool({ adapter: adapter('solo', session), backend: 'solo', session }, [], graphBytes);
    expect(pool.runStep(pool.current, {})).toBe(own);
    const typed = pool.failure(pool.current, new Error('device lost'));
    expect(BackendError.isInstance(typed)).toBe(true);
    expect(typed.message).toBe('The solo backend failed: device lost');
    // Weft's own errors pass as they are; once released, failures mean the model was disposed.
    const disposed = new ModelDisposedError();
    expect(pool.failure(pool.current, disposed)).toBe(disposed);
    await pool.release();
    expect(ModelDisposedError.isInstance(pool.failure(pool.current, new Error('Session already disposed')))).toBe(true);
    await expect(pool.runStep(pool.current, {})).rejects.toThrow(ModelDisposedError);
  });

  it('goes through the counted, typed run when there is a fallback or a run timeout', async () => {
    const own = Promise.resolve({});
    const session = fakeSession(() => own);
    const withFallback = new SessionPool({ adapter: adapter('a', session), backend: 'a', session }, [adapter('b', session)], graphBytes);
    const withTimeout = new SessionPool({ adapter: adapter('a', session), backend: 'a', session }, [], graphBytes, { runTimeoutMs: 1000 });
    for (const pool of [withFallback, withTimeout]) {
      const run = pool.runStep(pool.current, {});
      expect(run).not.toBe(own);
      await expect(run).resolves.toEqual({});
    }
    const failing = fakeSession(() => Promise.reject(new Error('boom')));
    const pool = new SessionPool({ adapter: adapter('a', failing), backend: 'a', session: failing }, [adapter('b', session)], graphBytes);
    await expect(pool.runStep(pool.current, {})).rejects.toThrow(/The a backend failed: boom/);
  });
});

describe('SessionPool breaker with concurrent runs', () => {
  it('opens once failures reach the threshold, even when runs sent before them succeed afterwards', async () => {
    // Runs resolve in the order the test says: several are in flight when the backend breaks.
    const pending: { resolve: (o: Record<string, BackendTensor>) => void; reject: (e: unknown) => void }[] = [];
    const session = fakeSession(() => new Promise((resolve, reject) => pending.push({ resolve, reject })));
    const fallback = fakeSession(() => Promise.resolve({}));
    const pool = new SessionPool({ adapter: adapter('flaky', session), backend: 'flaky', session }, [adapter('steady', fallback)], graphBytes, {
      breaker: { failureThreshold: 3 },
    });
    const runs = Array.from({ length: 6 }, () => pool.run(pool.current, {}).then(() => 'ok', () => 'failed'));
    // Completion alternates: success (sent before the fault), failure, success, failure, …
    for (let i = 0; i < 6; i++) {
      if (i % 2 === 0) pending[i]!.resolve({});
      else pending[i]!.reject(new Error('device lost'));
      await Promise.resolve();
    }
    expect(await Promise.all(runs)).toEqual(['ok', 'failed', 'ok', 'failed', 'ok', 'failed']);
    expect(pool.backends.find((b) => b.name === 'flaky')!.state).toBe('open');
    // A run that starts after the failures and succeeds still closes it (the half-open trial's case).
    const later = new SessionPool({ adapter: adapter('a', fallback), backend: 'a', session: fallback }, [adapter('b', fallback)], graphBytes, {
      breaker: { failureThreshold: 1, cooldownMs: 0 },
    });
    const failing = fakeSession(() => Promise.reject(new Error('x')));
    await later.run({ backend: 'a', session: failing }, {}).catch(() => {});
    expect(later.backends[0]!.state).toBe('half-open');
    await later.run(later.current, {});
    expect(later.backends[0]!.state).toBe('closed');
  });
});
