import { describe, expect, it } from 'vitest';
import { NodeSession } from '@weft/backend-node';
import { BackendError, CircuitBreaker, createWeft, definePlugin, type AttentionRouter } from '../src/index.js';
import { collect, done, fixture, runtime, wrappedNodeBackend } from './helpers.js';

/** A backend on onnxruntime-node whose runs fail (throw or hang) from run number `failFrom` on. */
function flakyBackend(options: {
  failFrom: number;
  mode: 'throw' | 'hang';
  failures?: number;
  name?: string;
  message?: string;
  priority?: number;
  /** Fails only the runs whose feeds this accepts (from `failFrom` on). */
  failWhen?: (feeds: Readonly<Record<string, { readonly data: unknown }>>) => boolean;
}) {
  const name = options.name ?? 'flaky';
  const state = { runs: 0, sessions: 0 };
  const plugin = wrappedNodeBackend({
    name,
    priority: options.priority ?? 1000,
    beforeCreateSession: () => void state.sessions++,
    wrapSession: (s) => ({
      ...s,
      async run(feeds, ro) {
        state.runs++;
        const failing =
          state.runs >= options.failFrom &&
          state.runs < options.failFrom + (options.failures ?? Infinity) &&
          (options.failWhen?.(feeds) ?? true);
        if (failing && options.mode === 'throw') throw new Error(options.message ?? 'device lost');
        if (failing) await new Promise((r) => setTimeout(r, 400));
        return s.run(feeds, ro);
      },
    }),
  });
  return { plugin, state };
}

const prompts = ['Once upon a time, there was a little fox named', 'Tom'];

describe('failover between backends', () => {
  it('continues a stream on the next backend without losing or repeating a token', async () => {
    const reference = runtime();
    const expected = done(await collect((await reference.load(fixture('tiny'))).generate({ prompt: prompts, maxTokens: 20 })));
    await reference.dispose();

    const flaky = flakyBackend({ failFrom: 6, mode: 'throw' });
    const weft = runtime([flaky.plugin]);
    const model = await weft.load(fixture('tiny'), { failover: true });
    expect(model.backend).toBe('flaky');
    const flakySession = model.session;
    expect(flakySession).not.toBeInstanceOf(NodeSession);
    const events = await collect(model.generate({ prompt: prompts, maxTokens: 20 }));
    const failovers = events.filter((e) => e.type === 'failover');
    expect(failovers).toEqual([{ type: 'failover', step: 5, from: 'flaky', to: 'node', reason: expect.stringContaining('device lost') }]);
    const last = done(events);
    expect(last.rows.map((r) => r.ids)).toEqual(expected.rows.map((r) => r.ids));
    const streamed = [0, 1].map((row) => events.flatMap((e) => (e.type === 'token' && e.row === row ? [e.id] : [])));
    expect(streamed).toEqual(expected.rows.map((r) => r.ids));
    expect(model.backend).toBe('node');
    // `session` follows the failover: the node backend's session, not the failed one.
    expect(model.session).toBeInstanceOf(NodeSession);
    expect(model.session).not.toBe(flakySession);
    await weft.dispose();
  });

  it('continues a num_logits_to_keep graph on the next backend without losing or repeating a token', async () => {
    const reference = runtime();
    const expected = done(await collect((await reference.load(fixture('tiny'))).generate({ prompt: prompts, maxTokens: 12 })));
    await reference.dispose();
    const flaky = flakyBackend({ failFrom: 4, mode: 'throw' });
    const weft = runtime([flaky.plugin]);
    const model = await weft.load(fixture('tiny-logits-to-keep'), { failover: true });
    const events = await collect(model.generate({ prompt: prompts, maxTokens: 12 }));
    expect(events.filter((e) => e.type === 'failover')).toHaveLength(1);
    expect(done(events).rows.map((r) => r.ids)).toEqual(expected.rows.map((r) => r.ids));
    await weft.dispose();
  });

  it('starts evaluate where a new generation starts: back on the first backend after a one-off failure', async () => {
    const flaky = flakyBackend({ failFrom: 3, mode: 'throw', failures: 1 });
    const weft = runtime([flaky.plugin]);
    try {
      const model = await weft.load(fixture('tiny'), { failover: true });
      await collect(model.generate({ prompt: prompts[0]!, maxTokens: 6 }));
      expect(model.backend).toBe('node'); // the run moved after flaky's one failure
      const before = flaky.state.runs;
      const inputIds = model.tokenizer.encode('Once upon a time, there was a little fox');
      await model.evaluate({ inputIds });
      // One failure left flaky's breaker closed, so evaluate ran there, as a new generate would.
      expect(flaky.state.runs - before).toBe(inputIds.length - 1);
      expect(model.backend).toBe('flaky');
    } finally {
      await weft.dispose();
    }
  });

  it('passes over a fallback whose session never opens, within sessionTimeoutMs', async () => {
    const flaky = flakyBackend({ failFrom: 3, mode: 'throw' });
    const stuck = definePlugin({
      name: 'stuck-backend',
      version: '1.0.0',
      apiVersion: '^0.1.0',
      setup(ctx) {
        ctx.register('backend', {
          name: 'stuck',
          priority: 500,
          create: () => ({
            specificationVersion: 'v1',
            name: 'stuck',
            probe: async () => ({ available: true }),
            createSession: () => new Promise<never>(() => {}),
          }),
        });
      },
    });
    const weft = runtime([flaky.plugin, stuck]);
    const model = await weft.load(fixture('tiny'), { failover: true, sessionTimeoutMs: 200 });
    const started = performance.now();
    const events = await collect(model.generate({ prompt: 'x', maxTokens: 6 }));
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(events.filter((e) => e.type === 'failover').map((e) => e.type === 'failover' && e.to)).toEqual(['node']);
    expect(done(events).usage.completionTokens).toBe(6);
    await weft.dispose();
  });

  it('fails over mid-stream with an evicting router in cache positions (fresh cache, re-rotation restarted)', async () => {
    const flaky = flakyBackend({ failFrom: 12, mode: 'throw' });
    const weft = runtime([flaky.plugin]);
    const model = await weft.load(fixture('tiny'), { failover: true });
    const window: AttentionRouter = {
      specificationVersion: 'v1',
      name: 'window-6',
      positions: 'cache',
      select: ({ cacheLength }) => (cacheLength <= 6 ? undefined : { kind: 'shared', slots: Array.from({ length: 6 }, (_, i) => cacheLength - 6 + i) }),
    };
    const events = await collect(model.generate({ prompt: 'Once upon a time, there was a little fox named', maxTokens: 20, router: window }));
    expect(events.filter((e) => e.type === 'failover')).toHaveLength(1);
    const last = done(events);
    expect(last.rows[0]!.ids).toHaveLength(20);
    expect(events.filter((e) => e.type === 'token').map((e) => (e.type === 'token' ? e.id : -1))).toEqual(last.rows[0]!.ids);
    await weft.dispose();
  });

  it('runs nothing on the next backend when the subscriber left while its session opened', async () => {
    const flaky = flakyBackend({ failFrom: 3, mode: 'throw' });
    let fallbackRuns = 0;
    let letOpen: () => void = () => {};
    let opening: () => void = () => {};
    const started = new Promise<void>((resolve) => (opening = resolve));
    const fallback = wrappedNodeBackend({
      name: 'fallback',
      priority: 500,
      beforeCreateSession: () => {
        opening();
        return new Promise<void>((resolve) => (letOpen = resolve));
      },
      beforeRun: () => void fallbackRuns++,
    });
    const weft = runtime([flaky.plugin, fallback]);
    const model = await weft.load(fixture('tiny'), { failover: { backends: ['fallback'] } });
    const subscription = model.generate({ prompt: 'x', maxTokens: 20 }).subscribe({});
    await started;
    subscription.unsubscribe();
    letOpen();
    await new Promise((r) => setTimeout(r, 200));
    expect(fallbackRuns).toBe(0);
    await weft.dispose();
  });

  it('treats a run past the timeout as a failure', async () => {
    const flaky = flakyBackend({ failFrom: 3, mode: 'hang' });
    const weft = runtime([flaky.plugin]);
    const model = await weft.load(fixture('tiny'), { failover: { runTimeoutMs: 100 } });
    const events = await collect(model.generate({ prompt: 'Tom', maxTokens: 8 }));
    expect(events.find((e) => e.type === 'failover')).toMatchObject({ from: 'flaky', to: 'node', reason: expect.stringContaining('longer than 100 ms') });
    expect(done(events).usage.completionTokens).toBe(8);
    await weft.dispose();
  });

  it('fails the stream with a BackendError when failover is off', async () => {
    const flaky = flakyBackend({ failFrom: 2, mode: 'throw' });
    const weft = runtime([flaky.plugin]);
    const model = await weft.load(fixture('tiny'));
    await expect(collect(model.generate({ prompt: 'Tom', maxTokens: 8 }))).rejects.toThrow(/flaky backend failed: device lost/);
    await weft.dispose();
  });

  it('says why each backend failed when none is left to continue on', async () => {
    const first = flakyBackend({ failFrom: 1, mode: 'throw', name: 'first', message: 'device lost' });
    const second = flakyBackend({ failFrom: 1, mode: 'throw', name: 'second', priority: 900, message: 'unexpected input data type' });
    // Only the two failing backends: no working one to fall back on.
    const weft = createWeft({ plugins: [first.plugin, second.plugin] });
    const model = await weft.load(fixture('tiny'), { failover: true });
    const events: unknown[] = [];
    const error = await new Promise((resolve) => model.generate({ prompt: 'Tom', maxTokens: 4 }).subscribe({ next: (e) => events.push(e), error: resolve, complete: () => resolve(undefined) }));
    expect(BackendError.isInstance(error)).toBe(true);
    // One failover: the step failed on both backends, so it is not tried on either again.
    expect(events.filter((e) => (e as { type: string }).type === 'failover')).toEqual([expect.objectContaining({ from: 'first', to: 'second' })]);
    expect((error as Error).message).toBe(
      'No backend left to continue on (second: failed during the run (unexpected input data type); first: failed the same step (device lost)).',
    );
    expect(first.state.runs).toBe(1);
    expect(second.state.runs).toBe(1);
    await weft.dispose();
  });

  it("ends a request whose step fails on every backend without opening their breakers for the model's other streams", async () => {
    // A deterministic failure of one request's input (here: the prompt contains id 42), on both backends.
    const poisoned = (feeds: Readonly<Record<string, { readonly data: unknown }>>) => Array.from(feeds['input_ids']!.data as BigInt64Array).includes(42n);
    const first = flakyBackend({ failFrom: 1, mode: 'throw', name: 'first', message: 'bad input', failWhen: poisoned });
    const second = flakyBackend({ failFrom: 1, mode: 'throw', name: 'second', priority: 900, message: 'bad input', failWhen: poisoned });
    const weft = createWeft({ plugins: [first.plugin, second.plugin] });
    const model = await weft.load(fixture('tiny'), { failover: true }); // breakers open after 3 failures
    for (let i = 0; i < 2; i++) {
      // One failure on each backend (going round them until both breakers opened took three each).
      await expect(collect(model.generate({ inputIds: [1, 42, 7], maxTokens: 2 }))).rejects.toThrow(/first: failed the same step \(bad input\)/);
      const events = await collect(model.generate({ inputIds: [1, 5, 7], maxTokens: 3 }));
      expect(events[0]).toMatchObject({ type: 'start', backend: 'first' });
      expect(events.some((e) => e.type === 'failover')).toBe(false);
      expect(done(events).usage.completionTokens).toBe(3);
    }
    await weft.dispose();
  });

  it('shows the backend choice and the passed-over backends in the start event', async () => {
    const flaky = flakyBackend({ failFrom: 1e9, mode: 'throw' });
    const weft = runtime([flaky.plugin]);
    const model = await weft.load(fixture('tiny'), { backend: 'auto' });
    const start = (await collect(model.generate({ prompt: 'Tom', maxTokens: 1 })))[0];
    expect(start).toMatchObject({ type: 'start', backend: 'flaky', rejectedBackends: [{ name: 'node', reason: 'lower priority (not probed)' }] });
    await weft.dispose();
  });

  it('returns new streams to a recovered backend after the cool-down (half-open), and skips it while open', async () => {
    const flaky = flakyBackend({ failFrom: 2, mode: 'throw', failures: 1 });
    const weft = runtime([flaky.plugin]);
    const model = await weft.load(fixture('tiny'), { failover: { breaker: { failureThreshold: 1, cooldownMs: 1500 } } });
    const first = await collect(model.generate({ prompt: 'Tom', maxTokens: 4 }));
    expect(first.filter((e) => e.type === 'failover')).toHaveLength(1);
    const whileOpen = await collect(model.generate({ prompt: 'Tom', maxTokens: 4 }));
    expect(whileOpen[0]).toMatchObject({ type: 'start', backend: 'node' });
    await new Promise((r) => setTimeout(r, 1600));
    const afterCooldown = await collect(model.generate({ prompt: 'Tom', maxTokens: 4 }));
    expect(afterCooldown[0]).toMatchObject({ type: 'start', backend: 'flaky' });
    expect(afterCooldown.filter((e) => e.type === 'failover')).toHaveLength(0);
    await weft.dispose();
  });
});

describe('CircuitBreaker', () => {
  it('opens after the threshold, half-opens after the cool-down, closes on success', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ failureThreshold: 2, cooldownMs: 1000 }, () => now);
    breaker.failure();
    expect(breaker.state).toBe('closed');
    breaker.failure();
    expect(breaker.state).toBe('open');
    expect(breaker.allows()).toBe(false);
    now = 999;
    expect(breaker.state).toBe('open');
    now = 1000;
    expect(breaker.state).toBe('half-open');
    breaker.failure(); // the trial failed: open again for a full cool-down
    expect(breaker.state).toBe('open');
    now = 2000;
    breaker.success();
    expect(breaker.state).toBe('closed');
  });
});
