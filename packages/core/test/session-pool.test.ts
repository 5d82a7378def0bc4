import { describe, expect, it } from 'vitest';
import { BackendError, ModelDisposedError, SessionPool, type BackendAdapter, type BackendTensor, type InferenceSession } from '../src/index.js';

/** A session whose runs resolve or reject with what `next` says; just enough for the pool. */
function fakeSession(next: () => Promise<Record<string, BackendTensor>>): InferenceSession {
  return {
    inputNames: [],
    outputNames: [],
    inputMetadata: [],
    outputMetadata: [],
    createTensor: () => {
      throw new Error('not used');
    },
    run: () => next(),
    release: async () => {},
  };
}

const adapter = (name: string, session: InferenceSession): BackendAdapter => ({
  specificationVersion: 'v1',
  name,
  probe: async () => ({ available: true }),
  createSession: async () => session,
});

describe('SessionPool.runStep', () => {
  it('returns the session’s own promise on one backend without a run timeout, and types its failures', async () => {
    const own = Promise.resolve({});
    const session = fakeSession(() => own);
    const pool = new SessionPool({ adapter: adapter('solo', session), backend: 'solo', session }, [], new Uint8Array());
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
    const withFallback = new SessionPool({ adapter: adapter('a', session), backend: 'a', session }, [adapter('b', session)], new Uint8Array());
    const withTimeout = new SessionPool({ adapter: adapter('a', session), backend: 'a', session }, [], new Uint8Array(), { runTimeoutMs: 1000 });
    for (const pool of [withFallback, withTimeout]) {
      const run = pool.runStep(pool.current, {});
      expect(run).not.toBe(own);
      await expect(run).resolves.toEqual({});
    }
    const failing = fakeSession(() => Promise.reject(new Error('boom')));
    const pool = new SessionPool({ adapter: adapter('a', failing), backend: 'a', session: failing }, [adapter('b', session)], new Uint8Array());
    await expect(pool.runStep(pool.current, {})).rejects.toThrow(/The a backend failed: boom/);
  });
});
