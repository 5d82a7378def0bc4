import { take } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_CAPABILITY,
  definePlugin,
  FullPrecisionKvStore,
  InvalidOptionsError,
  ModelDisposedError,
  REUSABLE_CAPABILITY,
  RuntimeDisposedError,
  type AttentionRouter,
  type GenerationEvent,
  type KvCacheInit,
} from '../src/index.js';
import { breakableFirstAndSecond, collect, done, exposedGc, runtime, storyModel, wrappedNodeBackend } from './helpers.js';

/** Rejects when `work` has not settled within `ms`: a hang detector, not a timing assertion. */
function within<T>(work: Promise<T>, what: string, ms = 20_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`hung: ${what}`)), ms)));
  return Promise.race([work, hung]).finally(() => clearTimeout(timer));
}

/** How a run ended: `ok`, or its error's class name. */
const outcome = (work: Promise<unknown>): Promise<string> => work.then(() => 'ok', (e: unknown) => (e as Error).constructor.name);

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
beforeAll(() => void process.on('unhandledRejection', onUnhandled));
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled).toEqual([]);
});

describe('a run refused before it starts', () => {
  it('disposes the store it took when its router instance is in use by another run', async () => {
    // The default store, reusable: each run takes an idle instance from the pool or makes one.
    const made: { begins: number; disposes: number }[] = [];
    class Counted extends FullPrecisionKvStore {
      override readonly name = 'counted';
      readonly counts = { begins: 0, disposes: 0 };
      override begin(init: KvCacheInit): void {
        this.counts.begins++;
        super.begin(init);
      }
      override dispose(): void {
        this.counts.disposes++;
        super.dispose();
      }
    }
    const weft = runtime([
      definePlugin({
        name: 'counted-store',
        version: '1.0.0',
        apiVersion: '^0.1.0',
        setup: (ctx) =>
          ctx.register('kv-cache', {
            name: 'counted',
            priority: 10,
            capabilities: [DEFAULT_CAPABILITY, REUSABLE_CAPABILITY],
            create: () => {
              const store = new Counted();
              made.push(store.counts);
              return store;
            },
          }),
      }),
    ]);
    try {
      const model = await weft.load(storyModel);
      const router: AttentionRouter = { specificationVersion: 'v1', name: 'keep-all', select: () => undefined };
      const [first, second] = await within(
        Promise.allSettled([collect(model.generate({ prompt: 'Once', maxTokens: 8, router })), collect(model.generate({ prompt: 'Tom', maxTokens: 8, router }))]),
        'two runs on one router',
      );
      expect(first.status).toBe('fulfilled');
      const refusal = (second as PromiseRejectedResult).reason as InvalidOptionsError;
      expect(InvalidOptionsError.isInstance(refusal)).toBe(true);
      expect(refusal.option).toBe('router');
      // Two stores were taken (the second run's while the first held one); both were disposed.
      expect(made).toHaveLength(2);
      for (const counts of made) expect(counts.disposes).toBeGreaterThanOrEqual(1);
      expect(made.reduce((n, c) => n + c.begins, 0)).toBe(1);
    } finally {
      await weft.dispose();
    }
  });
});

describe('instances a request passes', () => {
  it('are free for the next run once a cancelled run has ended, and then only', async () => {
    class Watched extends FullPrecisionKvStore {
      disposes = 0;
      override dispose(): void {
        this.disposes++;
        super.dispose();
      }
    }
    const weft = runtime();
    try {
      const model = await weft.load(storyModel);
      const kv = new Watched();
      const router: AttentionRouter = { specificationVersion: 'v1', name: 'keep-all', select: () => undefined };
      const expected = done(await collect(model.generate({ prompt: 'Tom', maxTokens: 6 }))).rows[0]!.ids;
      for (const cut of [1, 2, 3, 5]) {
        const before = kv.disposes;
        await within(collect(model.generate({ prompt: 'Once', maxTokens: 200, ignoreEos: true, kv, router }).pipe(take(cut))), `take(${cut})`);
        // The run ends (and disposes the store) after the forward pass in flight, not at unsubscribe.
        for (let i = 0; i < 10_000 && kv.disposes === before; i++) await new Promise((r) => setTimeout(r, 1));
        expect(kv.disposes).toBe(before + 1);
        expect(done(await within(collect(model.generate({ prompt: 'Tom', maxTokens: 6, kv, router })), 'the next run')).rows[0]!.ids).toEqual(expected);
      }
    } finally {
      await weft.dispose();
    }
  });
});

describe('disposing while streams run', () => {
  it('releases the session once when dispose() comes as a failover-enabled stream starts', async () => {
    const released: string[] = [];
    const weft = runtime([
      wrappedNodeBackend({ name: 'first', priority: 1000, onRelease: () => void released.push('first') }),
      wrappedNodeBackend({ name: 'second', priority: 900, onRelease: () => void released.push('second') }),
    ]);
    try {
      const model = await weft.load(storyModel, { backend: 'first', failover: true });
      const run = outcome(collect(model.generate({ prompt: 'Once', maxTokens: 5 })));
      await model.dispose();
      expect(await within(run, 'the stream')).toBe('ModelDisposedError');
      expect(released).toEqual(['first']);
    } finally {
      await weft.dispose();
    }
  });

  it('ends 8 streams with ModelDisposedError, releases the session once, and fails later calls fast', async () => {
    const released: string[] = [];
    const weft = runtime([wrappedNodeBackend({ name: 'counted', priority: 1000, onRelease: () => void released.push('counted') })]);
    try {
      const model = await weft.load(storyModel);
      const prompts = ['Once upon a time', 'The cat', 'A little girl', 'Tom', 'One day', 'The sun', 'Sam', 'Birds'];
      let tokens = 0;
      let firstTokens: () => void = () => {};
      const going = new Promise<void>((resolve) => (firstTokens = resolve));
      const runs = prompts.map((prompt) =>
        outcome(
          new Promise((resolve, reject) =>
            model.generate({ prompt, maxTokens: 500, ignoreEos: true }).subscribe({
              next: (e) => void (e.type === 'token' && ++tokens === 16 && firstTokens()),
              error: reject,
              complete: () => resolve(undefined),
            }),
          ),
        ),
      );
      await within(going, 'streams to start');
      const disposing = [model.dispose(), model.dispose()];
      expect(disposing[0]).toBe(disposing[1]);
      expect(await within(Promise.all(runs), 'streams to end')).toEqual(prompts.map(() => 'ModelDisposedError'));
      await Promise.all(disposing);
      expect(released).toEqual(['counted']);
      // Later calls: typed errors at once, and no new run.
      expect(await outcome(model.text({ prompt: 'x' }))).toBe('ModelDisposedError');
      expect(await outcome(collect(model.generate({ prompt: 'x' })))).toBe('ModelDisposedError');
      expect(await outcome((async () => {
        for await (const _ of model.stream({ prompt: 'x' })) throw new Error('a piece after dispose');
      })())).toBe('ModelDisposedError');
      expect(await outcome(model.evaluate({ inputIds: [1, 2, 3] }))).toBe('ModelDisposedError');
      await model.dispose();
      expect(released).toEqual(['counted']);
    } finally {
      await weft.dispose();
    }
  });

  it('ends streams on a runtime disposed under them, refuses loads in flight and after, and tolerates a second dispose', async () => {
    const weft = runtime();
    const model = await weft.load(storyModel);
    const events: GenerationEvent[] = [];
    const failure = (work: Promise<unknown>): Promise<unknown> => work.then(() => undefined, (e: unknown) => e);
    const stream = failure(
      new Promise((resolve, reject) =>
        model.generate({ prompt: 'Once', maxTokens: 500, ignoreEos: true }).subscribe({ next: (e) => events.push(e), error: reject, complete: () => resolve(undefined) }),
      ),
    );
    const iterated = failure((async () => {
      for await (const _ of model.stream({ prompt: 'Tom', maxTokens: 500, ignoreEos: true }));
    })());
    const loading = weft.load(storyModel).catch((e: unknown) => e);
    const disposed = weft.dispose();
    expect(weft.dispose()).toBe(disposed);
    await within(disposed, 'runtime dispose');
    // Typed as before, and saying what to do now that this runtime can load nothing more.
    for (const error of [await within(stream, 'the event stream'), await within(iterated, 'the for await')]) {
      expect(ModelDisposedError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(/Weft runtime was disposed while this model was running.*create a new runtime with createWeft\(\)/);
    }
    const refused = await loading;
    expect(RuntimeDisposedError.isInstance(refused)).toBe(true);
    expect((refused as Error).message).toMatch(/createWeft\(\)/);
    expect(RuntimeDisposedError.isInstance(await weft.load(storyModel).catch((e: unknown) => e))).toBe(true);
    const later = await model.text({ prompt: 'x' }).catch((e: unknown) => e);
    expect(ModelDisposedError.isInstance(later)).toBe(true);
    expect((later as Error).message).toMatch(/disposed with its Weft runtime; create a new runtime with createWeft\(\)/);
    expect(events.some((e) => e.type === 'done')).toBe(false);
  });
});

describe('half-open backends under concurrent streams', () => {
  it('sends one trial stream to a backend whose breaker half-opened, not every stream that starts at once', async () => {
    const backends = breakableFirstAndSecond();
    const reference = runtime();
    const alone = await reference.load(storyModel);
    const weft = runtime(backends.plugins);
    try {
      const prompts = ['Once upon a time', 'The cat', 'A little girl', 'Tom', 'One day', 'The sun', 'Sam', 'Birds'];
      const expected = await Promise.all(prompts.map(async (prompt) => done(await collect(alone.generate({ prompt, maxTokens: 8 }))).rows[0]!.ids));
      const cooldownMs = 200;
      const model = await weft.load(storyModel, { backend: 'first', failover: { backends: ['second'], breaker: { failureThreshold: 1, cooldownMs } } });
      backends.setBroken(true);
      const opening = await collect(model.generate({ prompt: 'Once', maxTokens: 4 }));
      expect(opening.filter((e) => e.type === 'failover')).toHaveLength(1);
      // The cool-down passes with the backend still broken; 8 streams start together.
      await new Promise((r) => setTimeout(r, cooldownMs + 50));
      const runs = await within(Promise.all(prompts.map((prompt) => collect(model.generate({ prompt, maxTokens: 8 })))), '8 streams');
      const startedOn = runs.map((events) => (events[0] as Extract<GenerationEvent, { type: 'start' }>).backend);
      expect(startedOn.filter((b) => b === 'first')).toHaveLength(1);
      expect(runs.flat().filter((e) => e.type === 'failover')).toHaveLength(1);
      expect(runs.map((events) => done(events).rows[0]!.ids)).toEqual(expected);
    } finally {
      await Promise.all([weft.dispose(), reference.dispose()]);
    }
  });
});

describe('what a disposed model leaves behind', () => {
  it('nothing the runtime keeps: the model and its session are collected while the runtime lives on', async () => {
    const gc = exposedGc();
    const collected: string[] = [];
    const registry = new FinalizationRegistry<string>((what) => void collected.push(what));
    const weft = runtime();
    try {
      await (async () => {
        const model = await weft.load(storyModel);
        registry.register(model, 'model');
        registry.register(model.session, 'session');
        // Runs of every ending: completed, cancelled, broken out of, aborted, failed.
        for (let i = 0; i < 5; i++) {
          await model.text({ prompt: 'Once', maxTokens: 4 });
          await collect(model.generate({ prompt: 'Once', maxTokens: 50, kv: 'fp32' }).pipe(take(3)));
          for await (const _ of model.stream({ prompt: 'Tom', maxTokens: 50 })) break;
          await model.text({ prompt: 'Tom', maxTokens: 50, signal: AbortSignal.abort() });
          await model.text({ prompt: 'Tom', processors: [{ name: 'no', process: () => { throw new Error('no'); } }] }).catch(() => undefined);
        }
        // The cancelled runs end after their forward pass in flight.
        await new Promise((r) => setTimeout(r, 100));
        await model.dispose();
      })();
      for (let i = 0; i < 50 && collected.length < 2; i++) {
        gc();
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(collected.sort()).toEqual(['model', 'session']);
      // The runtime is still usable.
      expect(await (await weft.load(storyModel)).text({ prompt: 'Tom', maxTokens: 2 })).not.toBe('');
    } finally {
      await weft.dispose();
    }
  });
});
