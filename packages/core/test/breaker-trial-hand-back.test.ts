import { firstValueFrom, tap } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  BackendError,
  CircuitBreaker,
  SessionPool,
  type AttentionRouter,
  type BackendTensor,
  type GenerationEvent,
  type GenerationHooks,
  type WeftModel,
} from '../src/index.js';
import { breakableFirstAndSecond, collect, done, poolAdapter as adapter, runsAs as fakeSession, runtime, storyModel, wrappedNodeBackend } from './helpers.js';

const COOLDOWN_MS = 1000;
const startedOn = (events: readonly GenerationEvent[]): string => (events[0] as Extract<GenerationEvent, { type: 'start' }>).backend;
const failovers = (events: readonly GenerationEvent[]): number => events.filter((e) => e.type === 'failover').length;

/**
 * A model on `first` failing over to `second`, whose `first` breaker has opened (one failed run)
 * and cooled down: the next request that takes `first` takes its one half-open trial. The breakers
 * read Date.now(), so the test's own clock passes the cool-down (none can pass by accident).
 */
async function halfOpenFirst(options: { readonly recovered: boolean }) {
  const backends = breakableFirstAndSecond();
  const weft = runtime(backends.plugins);
  const model = await weft.load(storyModel, { backend: 'first', failover: { backends: ['second'], breaker: { failureThreshold: 1, cooldownMs: COOLDOWN_MS } } });
  let clock = 1_000_000;
  vi.spyOn(Date, 'now').mockImplementation(() => clock);
  backends.setBroken(true);
  expect(failovers(await collect(model.generate({ prompt: 'Once', maxTokens: 2 })))).toBe(1);
  // While open, streams skip it.
  expect(startedOn(await collect(model.generate({ prompt: 'Once', maxTokens: 1 })))).toBe('second');
  backends.setBroken(!options.recovered);
  clock += COOLDOWN_MS;
  return { weft, model, backends, advance: (ms: number) => void (clock += ms) };
}

/** A request that runs: where it started, and how many failovers it had. */
async function runs(model: WeftModel, prompt = 'Tom'): Promise<{ backend: string; failovers: number }> {
  const events = await collect(model.generate({ prompt, maxTokens: 2 }));
  expect(done(events).finishReason).toBe('length');
  return { backend: startedOn(events), failovers: failovers(events) };
}

describe('a half-open trial taken by a request that never runs on the backend', () => {
  afterEach(() => void vi.restoreAllMocks());

  it('is not taken by a request naming an unknown router or KV store: the next request gets it', async () => {
    const { weft, model } = await halfOpenFirst({ recovered: true });
    try {
      for (const refused of [{ prompt: 'Once', router: 'no-such-router' }, { prompt: 'Once', kv: 'no-such-store' }]) {
        await expect(collect(model.generate(refused))).rejects.toThrow(/no-such/);
      }
      await expect(model.evaluate({ inputIds: [1, 2, 3], kv: 'no-such-store' })).rejects.toThrow(/no-such-store/);
      expect(await runs(model)).toEqual({ backend: 'first', failovers: 0 });
      // The trial succeeded: closed again.
      expect(await runs(model)).toEqual({ backend: 'first', failovers: 0 });
    } finally {
      await weft.dispose();
    }
  });

  it('is not taken by a request whose router instance another run is using', async () => {
    const { weft, model, advance } = await halfOpenFirst({ recovered: true });
    try {
      // Undo the cool-down: a stream starts on `second` while `first` is still open, and holds the router.
      advance(-COOLDOWN_MS);
      const router: AttentionRouter = { specificationVersion: 'v1', name: 'keep-all', select: () => undefined };
      let firstToken!: () => void;
      const tokenSeen = new Promise<void>((resolve) => (firstToken = resolve));
      const holder = collect(model.generate({ prompt: 'Once', maxTokens: 16, ignoreEos: true, router }).pipe(tap((e) => e.type === 'token' && firstToken())));
      holder.catch(() => undefined); // awaited below; a failed assertion before must not leave it unhandled
      await tokenSeen;
      advance(COOLDOWN_MS);
      await expect(collect(model.generate({ prompt: 'Tom', router }))).rejects.toThrow(/already in use by another run/);
      expect(await runs(model)).toEqual({ backend: 'first', failovers: 0 });
      expect(startedOn(await holder)).toBe('second');
    } finally {
      await weft.dispose();
    }
  });

  it('goes back when the subscriber leaves at the start event', async () => {
    const { weft, model } = await halfOpenFirst({ recovered: true });
    try {
      const start = await firstValueFrom(model.generate({ prompt: 'Once', maxTokens: 8 }));
      expect(start).toMatchObject({ type: 'start', backend: 'first' });
      expect(await runs(model)).toEqual({ backend: 'first', failovers: 0 });
    } finally {
      await weft.dispose();
    }
  });

  it('goes back when the request is aborted before its first step (generate and evaluate)', async () => {
    const { weft, model, advance } = await halfOpenFirst({ recovered: false });
    try {
      const aborted = new AbortController();
      aborted.abort();
      const events = await collect(model.generate({ prompt: 'Once', maxTokens: 8, signal: aborted.signal }));
      // Aborted already: no backend is taken (no trial, no session opened); `start` names the model's current one.
      expect(startedOn(events)).toBe(model.backend);
      expect(done(events)).toMatchObject({ finishReason: 'abort', usage: { completionTokens: 0 } });
      await expect(model.evaluate({ inputIds: [1, 2, 3], signal: aborted.signal })).rejects.toThrow();
      // Aborted once the start event is out, before step 0.
      const late = new AbortController();
      const started = await collect(model.generate({ prompt: 'Once', maxTokens: 8, signal: late.signal }).pipe(tap((e) => e.type === 'start' && late.abort())));
      expect(done(started).finishReason).toBe('abort');
      // The trial, still `first`'s to give, goes to this run, which fails there: the breaker opens
      // again for a whole cool-down, as after any trial that ran and failed.
      expect(await runs(model)).toEqual({ backend: 'first', failovers: 1 });
      expect(await runs(model)).toEqual({ backend: 'second', failovers: 0 });
      advance(COOLDOWN_MS - 1);
      expect(await runs(model)).toEqual({ backend: 'second', failovers: 0 });
    } finally {
      await weft.dispose();
    }
  });

  it('still goes to one of two requests that start together after it came back', async () => {
    const { weft, model } = await halfOpenFirst({ recovered: true });
    try {
      const aborted = new AbortController();
      aborted.abort();
      expect(done(await collect(model.generate({ prompt: 'Once', signal: aborted.signal }))).finishReason).toBe('abort');
      const both = await Promise.all([runs(model, 'Once'), runs(model, 'Tom')]);
      expect(both.map((r) => r.backend).sort()).toEqual(['first', 'second']);
    } finally {
      await weft.dispose();
    }
  });

  /**
   * `first` then `second` on models/story, each breakable, with `hooks` on `first`'s plugin; both
   * broken once (both breakers open), then `second` mended and the cool-down over. Counts each
   * backend's runs from then on.
   */
  async function bothHalfOpen(hooks: readonly GenerationHooks[] = []) {
    const broken = { first: false, second: false };
    const ran = { first: 0, second: 0 };
    const backend = (name: 'first' | 'second', priority: number) =>
      wrappedNodeBackend({
        name,
        priority,
        beforeRun: () => {
          ran[name]++;
          if (broken[name]) throw new Error(`${name}: device lost`);
        },
        ...(name === 'first' ? { hooks } : {}),
      });
    const weft = runtime([backend('first', 1000), backend('second', 900)]);
    const model = await weft.load(storyModel, { backend: 'first', failover: { backends: ['second'], breaker: { failureThreshold: 1, cooldownMs: COOLDOWN_MS } } });
    let clock = 1_000_000;
    vi.spyOn(Date, 'now').mockImplementation(() => clock);
    broken.first = broken.second = true;
    await expect(collect(model.generate({ prompt: 'Once', maxTokens: 2 }))).rejects.toThrow(BackendError);
    broken.second = false;
    clock += COOLDOWN_MS;
    ran.first = ran.second = 0;
    return { weft, model, ran };
  }

  it('goes back when a stream failed over to a half-open backend and ended before running there', async () => {
    // Once armed, a hook fails the attempt that follows the failover (the second attempt).
    let attempts: number | undefined;
    const { weft, model } = await bothHalfOpen([
      {
        beforeForward: () => {
          if (attempts !== undefined && ++attempts === 2) throw new Error('hook failed after the failover');
        },
      },
    ]);
    attempts = 0;
    try {
      // `first` takes its trial and fails; the stream fails over to `second`, taking its trial, and
      // the hook fails before the run there.
      await expect(collect(model.generate({ prompt: 'Once', maxTokens: 2 }))).rejects.toThrow(/hook failed after the failover/);
      attempts = undefined;
      // `first` is open again; `second`'s trial came back, so this stream gets it.
      expect(await runs(model)).toEqual({ backend: 'second', failovers: 0 });
    } finally {
      await weft.dispose();
    }
  });

  it('goes back when the request is aborted at the failover event, before the run on the half-open backend, by the time the stream completes (review 29)', async () => {
    const { weft, model, ran } = await bothHalfOpen();
    try {
      const controller = new AbortController();
      const events = await collect(model.generate({ prompt: 'Once', maxTokens: 2, signal: controller.signal }).pipe(tap((e) => e.type === 'failover' && controller.abort())));
      expect(done(events).finishReason).toBe('abort');
      expect(ran.second).toBe(0);
      // Made as the stream completes: `second`'s trial is back already.
      expect(await runs(model)).toEqual({ backend: 'second', failovers: 0 });
    } finally {
      await weft.dispose();
    }
  });

  it('goes back when a beforeForward hook aborts the request before its first run (review 29)', async () => {
    // Armed for one request: its hook aborts it at step 0, after `first` (half-open) was taken.
    let armed: AbortController | undefined;
    const abortArmed: GenerationHooks = {
      beforeForward: ({ step }) => {
        if (step === 0) armed?.abort();
        armed = undefined;
      },
    };
    const { weft, model, ran } = await bothHalfOpen([abortArmed]);
    try {
      armed = new AbortController();
      const events = await collect(model.generate({ prompt: 'Once', maxTokens: 2, signal: armed.signal }));
      expect(startedOn(events)).toBe('first');
      expect(done(events).finishReason).toBe('abort');
      expect(ran.first).toBe(0);
      // `first`'s trial came back: the next request takes it (fails there, still broken) and fails over.
      expect(await runs(model)).toEqual({ backend: 'first', failovers: 1 });
    } finally {
      await weft.dispose();
    }
  });

  it('goes back when the subscriber unsubscribes at the failover event, before the run on the half-open backend', async () => {
    const { weft, model, ran } = await bothHalfOpen();
    try {
      // `first` takes its trial and fails; the stream fails over to `second`, taking its trial,
      // and the subscriber leaves at the failover event.
      await new Promise<void>((resolve, reject) => {
        const subscription = model.generate({ prompt: 'Once', maxTokens: 2 }).subscribe({
          next: (e) => {
            if (e.type !== 'failover') return;
            subscription.unsubscribe();
            // Let the loop go on to where it would send the run.
            setTimeout(resolve, 50);
          },
          error: reject,
        });
      });
      expect(ran.second).toBe(0);
      // `second`'s trial came back: this stream gets it.
      expect(await runs(model)).toEqual({ backend: 'second', failovers: 0 });
    } finally {
      await weft.dispose();
    }
  });
});

describe('SessionPool.handBack', () => {
  afterEach(() => void vi.restoreAllMocks());

  /** A pool on `a` (runs as `runA` says) then `b`, with `a`'s breaker opened once and cooled down. */
  async function poolWithHalfOpenA(runA: () => Promise<Record<string, BackendTensor>>) {
    let clock = 0;
    vi.spyOn(Date, 'now').mockImplementation(() => clock);
    const a = fakeSession(runA);
    const b = fakeSession(async () => ({}));
    const pool = new SessionPool({ adapter: adapter('a', a), backend: 'a', session: a }, [adapter('b', b)], { kind: 'bytes', bytes: new Uint8Array() }, {
      breaker: { failureThreshold: 1, cooldownMs: COOLDOWN_MS },
    });
    await pool.run({ backend: 'a', session: fakeSession(() => Promise.reject(new Error('device lost'))) }, {}).catch(() => undefined);
    clock += COOLDOWN_MS;
    const state = () => pool.backends.find((x) => x.name === 'a')!.state;
    return { pool, state };
  }

  it('returns an unused trial so the next acquire gets it, once, and ignores what was no trial', async () => {
    const { pool, state } = await poolWithHalfOpenA(async () => ({}));
    expect(state()).toBe('half-open');
    const trial = await pool.acquire();
    expect(trial.backend).toBe('a');
    const meanwhile = await pool.acquire();
    expect(meanwhile.backend).toBe('b');
    pool.handBack(meanwhile); // not a trial: nothing changes
    expect(state()).toBe('open');
    pool.handBack(trial);
    expect(state()).toBe('half-open');
    const next = await pool.acquire();
    expect(next.backend).toBe('a');
    // Handing the first back again does not give away the trial `next` holds now.
    pool.handBack(trial);
    expect((await pool.acquire()).backend).toBe('b');
    await pool.run(next, {});
    expect(state()).toBe('closed');
  });

  it('changes nothing for a trial that ran: failed, the breaker stays open; succeeded, closed', async () => {
    let fail = true;
    const { pool, state } = await poolWithHalfOpenA(() => (fail ? Promise.reject(new Error('still broken')) : Promise.resolve({})));
    const failedTrial = await pool.acquire();
    await expect(pool.run(failedTrial, {})).rejects.toThrow(/still broken/);
    pool.handBack(failedTrial);
    expect(state()).toBe('open');
    expect((await pool.acquire()).backend).toBe('b');
    vi.mocked(Date.now).mockImplementation(() => 10 * COOLDOWN_MS);
    fail = false;
    const goodTrial = await pool.acquire();
    expect(goodTrial.backend).toBe('a');
    await pool.run(goodTrial, {});
    pool.handBack(goodTrial);
    expect(state()).toBe('closed');
  });
});

describe('CircuitBreaker.handBack', () => {
  it('makes a trial nobody used available again, unless the breaker moved on since', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs: COOLDOWN_MS }, () => now);
    expect(breaker.take()).toBe(0); // closed: allowed, no trial
    breaker.failure();
    expect(breaker.take()).toBeUndefined(); // open
    now = COOLDOWN_MS;
    const first = breaker.take()!;
    expect(first).toBeGreaterThan(0);
    expect(breaker.allows()).toBe(false);
    breaker.handBack(first);
    expect(breaker.state).toBe('half-open');
    const second = breaker.take()!;
    expect(second).toBeGreaterThan(first);
    expect(breaker.take()).toBeUndefined();
    // A stale number, or 0, gives nothing back.
    breaker.handBack(first);
    breaker.handBack(0);
    expect(breaker.state).toBe('open');
    // A failure meanwhile restarts the cool-down: handing the trial back then changes nothing.
    breaker.failure();
    breaker.handBack(second);
    expect(breaker.state).toBe('open');
    now += COOLDOWN_MS;
    const third = breaker.take()!;
    const epoch = breaker.epoch;
    breaker.success(epoch);
    breaker.handBack(third);
    expect(breaker.state).toBe('closed');
    expect(breaker.take()).toBe(0);
  });
});
