import { describe, expect, it } from 'vitest';
import { CircuitBreaker, ModelDisposedError, SessionPool, type BackendAdapter, type InferenceSession } from '../src/index.js';

/** A session that only counts its releases. */
function countedSession() {
  let releases = 0;
  const session: InferenceSession = {
    inputNames: [],
    outputNames: [],
    inputMetadata: [],
    outputMetadata: [],
    createTensor: () => {
      throw new Error('not used');
    },
    run: async () => ({}),
    release: async () => void releases++,
  };
  return { session, releases: () => releases };
}

const adapter = (name: string, createSession: BackendAdapter['createSession']): BackendAdapter => ({
  specificationVersion: 'v1',
  name,
  probe: async () => ({ available: true }),
  createSession,
});

describe('SessionPool under concurrent callers', () => {
  it('releases a session once when release() comes while acquire() is a turn from taking it', async () => {
    const primary = countedSession();
    const pool = new SessionPool({ adapter: adapter('a', async () => primary.session), backend: 'a', session: primary.session }, [], undefined);
    const acquiring = pool.acquire().then(() => 'acquired', (e: unknown) => e);
    await pool.release();
    expect(ModelDisposedError.isInstance(await acquiring)).toBe(true);
    expect(primary.releases()).toBe(1);
  });

  it('releases a fallback session once when the pool is released as it arrives', async () => {
    // Released 0 to 7 turns after the fallback's session arrived: before, while and after the
    // failover takes it. Each way, every session is released exactly once.
    const outcomes: string[] = [];
    for (let turns = 0; turns < 8; turns++) {
      const primary = countedSession();
      const fallback = countedSession();
      let arrive: () => void = () => {};
      const opened = new Promise<void>((resolve) => (arrive = resolve));
      const pool = new SessionPool(
        { adapter: adapter('a', async () => primary.session), backend: 'a', session: primary.session },
        [adapter('b', async () => (await opened, fallback.session))],
        { kind: 'bytes', bytes: new Uint8Array() },
      );
      const moving = pool.failover('a').then(() => 'moved', (e: unknown) => (ModelDisposedError.isInstance(e) ? 'disposed' : String(e)));
      arrive();
      for (let i = 0; i < turns; i++) await Promise.resolve();
      await pool.release();
      outcomes.push(await moving);
      expect(fallback.releases()).toBe(1);
      expect(primary.releases()).toBe(1);
    }
    expect(outcomes).toContain('disposed');
  });

  it('counts one failure on a fallback whose one session opening failed, however many streams waited on it', async () => {
    const primary = countedSession();
    const fallback = countedSession();
    let openings = 0;
    let fail: (e: Error) => void = () => {};
    const pool = new SessionPool(
      { adapter: adapter('a', async () => primary.session), backend: 'a', session: primary.session },
      [
        adapter('b', () => {
          // The first opening fails once every stream is waiting on it; later ones succeed.
          if (++openings === 1) return new Promise<InferenceSession>((_, reject) => (fail = reject));
          return Promise.resolve(fallback.session);
        }),
      ],
      { kind: 'bytes', bytes: new Uint8Array() },
      { breaker: { failureThreshold: 2 } },
    );
    const streams = Array.from({ length: 4 }, () => pool.failover('a').then(() => 'moved', (e: unknown) => (e as Error).message));
    await new Promise((r) => setImmediate(r));
    fail(new Error('out of memory'));
    const outcomes = await Promise.all(streams);
    for (const outcome of outcomes) expect(outcome).toMatch(/b: out of memory/);
    expect(openings).toBe(1);
    // One failure, under the threshold of 2: the fallback is still tried, and opens.
    expect(pool.backends.find((b) => b.name === 'b')!.state).toBe('closed');
    expect((await pool.failover('a')).backend).toBe('b');
    expect(openings).toBe(2);
  });
});

describe('CircuitBreaker half-open', () => {
  it('lets one trial through per cool-down however many ask at once, then closes on its success', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 1000 }, () => now);
    breaker.failure();
    now = 1000;
    expect(breaker.state).toBe('half-open');
    const epoch = breaker.epoch;
    expect([breaker.allows(), breaker.allows(), breaker.allows()]).toEqual([true, false, false]);
    // A trial that never reports back (its stream was cancelled) does not block the backend for good.
    now = 2000;
    expect([breaker.allows(), breaker.allows()]).toEqual([true, false]);
    breaker.success(epoch);
    expect(breaker.state).toBe('closed');
    expect([breaker.allows(), breaker.allows()]).toEqual([true, true]);
  });

  it('opens again for a full cool-down when the trial fails', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 1000 }, () => now);
    breaker.failure();
    now = 1500;
    expect(breaker.allows()).toBe(true);
    now = 1600;
    breaker.failure();
    now = 2599;
    expect(breaker.allows()).toBe(false);
    now = 2600;
    expect(breaker.allows()).toBe(true);
  });
});
