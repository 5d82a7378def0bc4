import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { take, tap, type Observable } from 'rxjs';
import {
  DEFAULT_CAPABILITY,
  definePlugin,
  FullPrecisionKvStore,
  PluginError,
  REUSABLE_CAPABILITY,
  type GenerationEvent,
  type GenerationRequest,
  type KvCacheInit,
  type WeftModel,
} from '../src/index.js';
import { collect, done, runtime, storyModel, wrappedNodeBackend } from './helpers.js';

/**
 * The runtime's default store (reusable, so runs share pooled instances), counting what it is
 * asked: a store begun while busy, or disposed while idle, is a lifecycle bug of the loop.
 */
function countedStore() {
  const made: CountedStore[] = [];
  const problems: string[] = [];
  let busy = 0;
  class CountedStore extends FullPrecisionKvStore {
    override readonly name = 'counted';
    inRun = false;
    override begin(init: KvCacheInit): void {
      if (this.inRun) problems.push('begun while a run had it');
      else busy++;
      this.inRun = true;
      super.begin(init);
    }
    override dispose(): void {
      if (this.inRun) busy--;
      this.inRun = false;
      super.dispose();
    }
  }
  const plugin = definePlugin({
    name: 'counted-store',
    version: '1.0.0',
    apiVersion: '^0.1.0',
    setup(ctx) {
      ctx.register('kv-cache', {
        name: 'counted',
        priority: 10,
        capabilities: [DEFAULT_CAPABILITY, REUSABLE_CAPABILITY],
        create: () => {
          const store = new CountedStore();
          made.push(store);
          return store;
        },
      });
    },
  });
  return { plugin, made, problems, busy: () => busy };
}

/** Rejects when `work` has not settled within `ms`: a hang detector, not a timing assertion. */
function within<T>(work: Promise<T>, what: string, ms = 20_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`hung: ${what}`)), ms)));
  return Promise.race([work, hung]).finally(() => clearTimeout(timer));
}

/** Waits (turn by turn, up to a hang detector) until `done()` holds. */
async function until(condition: () => boolean, what: string): Promise<void> {
  await within(
    (async () => {
      while (!condition()) await new Promise((r) => setTimeout(r, 1));
    })(),
    what,
  );
}

/** A plugin whose `beforeForward` hook throws for batches of three rows only. */
const failsBatchesOfThree = definePlugin({
  name: 'fails-batches-of-three',
  version: '1.0.0',
  apiVersion: '^0.1.0',
  setup: (ctx) =>
    ctx.addHooks({
      beforeForward: ({ batchSize, step }) => {
        if (batchSize === 3 && step === 2) throw new Error('refused a batch of three');
      },
    }),
});

const prompts = ['Once upon a time', 'The cat', 'A little girl named Lily', 'Tom had a red ball', 'One day', 'The sun was', 'Sam and Max', 'Birds'];
const long = { prompt: 'Once upon a time', maxTokens: 200, ignoreEos: true } as const;

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);

describe('many streams on one model', () => {
  const store = countedStore();
  const weft = runtime([store.plugin, failsBatchesOfThree]);
  const reference = runtime();
  let model: WeftModel;
  let alone: WeftModel;
  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    model = await weft.load(storyModel);
    alone = await reference.load(storyModel);
  });
  afterAll(async () => {
    await Promise.all([weft.dispose(), reference.dispose()]);
    process.off('unhandledRejection', onUnhandled);
    expect(unhandled).toEqual([]);
  });

  /** Every store is idle again, and none was begun twice or disposed out of turn. */
  const storesSettle = async (what: string): Promise<void> => {
    await until(() => store.busy() === 0, `${what}: a store still in a run`);
    expect(store.problems).toEqual([]);
  };

  it('gives each of 8 concurrent streams (events, stream(), text(), a batch, sampled) what it gives alone, and one failing stream fails alone', async () => {
    const requests: GenerationRequest[] = [
      ...prompts.slice(0, 5).map((prompt) => ({ prompt, maxTokens: 24 })),
      { prompt: [prompts[5]!, prompts[6]!], maxTokens: 16 },
      { prompt: prompts[7]!, maxTokens: 16, temperature: 0.9, topK: 20, seed: 7 },
      { prompt: prompts[0]!, maxTokens: 16, temperature: 0.7, topP: 0.9, seed: 3, repetitionPenalty: 1.2 },
    ];
    const expected: string[][] = [];
    for (const r of requests) expected.push(done(await collect(alone.generate(r))).rows.map((row) => row.text));
    // Each request read a different way: events, stream() and text().
    const read = async (r: GenerationRequest, i: number): Promise<string[]> => {
      if (i % 3 === 0 || Array.isArray(r.prompt)) return done(await collect(model.generate(r))).rows.map((row) => row.text);
      if (i % 3 === 1) {
        let text = '';
        for await (const piece of model.stream(r)) text += piece;
        return [text];
      }
      return [await model.text(r)];
    };
    const failing = collect(model.generate({ prompt: ['a', 'b', 'c'], maxTokens: 10 })).then(
      () => undefined,
      (e: unknown) => e,
    );
    const results = await within(Promise.all([...requests.map(read), failing]), '8 concurrent streams');
    expect(results.slice(0, requests.length)).toEqual(expected);
    const error = results[requests.length] as PluginError;
    expect(PluginError.isInstance(error)).toBe(true);
    expect(error.plugin).toBe('fails-batches-of-three');
    expect(error.message).toMatch(/beforeForward.*refused a batch of three/);
    await storesSettle('concurrent streams');
  });

  it('hands the store back at every point a run can be cancelled, with nothing left pending', async () => {
    const events = (request: GenerationRequest): Observable<GenerationEvent> => model.generate(request);
    const made = store.made.length;
    // Unsubscribed as subscribe returns (the first forward pass may be on its way).
    events(long).subscribe().unsubscribe();
    await storesSettle('unsubscribed at once');
    // Right after `start`, before any forward pass.
    expect((await within(collect(events(long).pipe(take(1))), 'take(1)')).map((e) => e.type)).toEqual(['start']);
    await storesSettle('take(1)');
    // During a forward pass: onnxruntime-node runs it on a later turn of the event loop.
    const during = events(long).subscribe();
    await new Promise((r) => setImmediate(r));
    during.unsubscribe();
    await storesSettle('during a forward pass');
    // Between a token and the step's metrics event.
    await within(
      new Promise<void>((resolve) => {
        const subscription = events(long).subscribe((e) => {
          if (e.type === 'token' && e.index === 3) {
            subscription.unsubscribe();
            resolve();
          }
        });
      }),
      'unsubscribe at a token',
    );
    await storesSettle('between token and metrics');
    // Leaving `for await` early: the iterator's return() stops the loop.
    let pieces = 0;
    for await (const piece of model.stream(long)) if (piece !== '' && ++pieces === 3) break;
    await storesSettle('break out of stream()');
    // A consumer that throws out of the loop.
    await expect(
      (async () => {
        for await (const _ of model.stream(long)) throw new Error('reader failed');
      })(),
    ).rejects.toThrow('reader failed');
    await storesSettle('throw out of stream()');
    // Signals: aborted before the call, during a run, and text() with an aborted signal.
    const aborted = AbortSignal.abort();
    expect(done(await within(collect(events({ ...long, signal: aborted })), 'pre-aborted')).finishReason).toBe('abort');
    expect(await within(model.text({ ...long, signal: aborted }), 'text() pre-aborted')).toBe('');
    const controller = new AbortController();
    const partial = within(model.text({ ...long, signal: controller.signal }), 'text() aborted mid-run');
    await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    expect((await partial).length).toBeLessThan((await alone.text(long)).length);
    await storesSettle('signals');
    // Every cancelled run gave its store back to the pool: the runs above, one at a time, made none.
    expect(store.made.length).toBe(made);
  });

  it('soaks 1,200 short requests with random cancellation, aborts and failures, and holds no more than it did', async () => {
    let seed = 12345;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    // One long-lived signal shared by every request (an app's shutdown signal): no request may leave a listener on it.
    const lifetime = new AbortController();
    const explode = { name: 'explode', process: (): never => { throw new Error('kaboom'); } };
    const outcomes = new Map<string, number>();
    const count = (what: string): void => void outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
    const one = async (i: number): Promise<void> => {
      const prompt = prompts[i % prompts.length]!;
      const maxTokens = 1 + Math.floor(random() * 6);
      const signal = lifetime.signal;
      switch (Math.floor(random() * 7)) {
        case 0:
          await model.text({ prompt, maxTokens, signal });
          return count('text');
        case 1:
          for await (const _ of model.stream({ prompt, maxTokens: 12, signal })) if (random() < 0.3) break;
          return count('stream');
        case 2:
          await collect(model.generate({ prompt, maxTokens: 12, signal }).pipe(take(1 + Math.floor(random() * 5))));
          return count('take');
        case 3: {
          const controller = new AbortController();
          const at = Math.floor(random() * 4);
          const events = await collect(
            // Aborted from a token handler, as a UI's stop button would.
            model.generate({ prompt: [prompt, 'x'], maxTokens: 12, signal: controller.signal }).pipe(
              tap((e) => {
                if (e.type === 'token' && e.index >= at) controller.abort();
              }),
            ),
          );
          expect(['abort', 'eos']).toContain(done(events).finishReason);
          return count('abort');
        }
        case 4:
          await expect(collect(model.generate({ prompt, maxTokens, processors: [explode] }))).rejects.toThrow(/kaboom/);
          return count('failed');
        case 5:
          await expect(collect(model.generate({ prompt: ['a', 'b', 'c'], maxTokens: 4 }))).rejects.toThrow(/refused a batch of three/);
          return count('hook failed');
        default:
          await model.text({ prompt, maxTokens, temperature: 0.8, seed: i, signal });
          return count('sampled');
      }
    };
    for (let i = 0; i < 1200; i += 8) await within(Promise.all(Array.from({ length: 8 }, (_, k) => one(i + k))), `soak round ${i / 8}`);
    expect(outcomes.size).toBe(7);
    await storesSettle('soak');
    expect(getEventListeners(lifetime.signal, 'abort')).toEqual([]);
    // Pooled stores went back: four runs at once now take idle ones instead of making more.
    const before = store.made.length;
    await Promise.all(prompts.slice(0, 4).map((prompt) => model.text({ prompt, maxTokens: 2 })));
    expect(store.made.length).toBe(before);
    await storesSettle('after the soak');
  });
});

describe('cancelling during failover', () => {
  it('hands the store back when a stream is unsubscribed while the next backend opens, and releases each session once', async () => {
    const store = countedStore();
    const released: string[] = [];
    let runs = 0;
    let letOpen: () => void = () => {};
    let opening: () => void = () => {};
    const started = new Promise<void>((resolve) => (opening = resolve));
    const weft = runtime([
      store.plugin,
      wrappedNodeBackend({
        name: 'first',
        priority: 1000,
        beforeRun: () => {
          if (++runs >= 3) throw new Error('device lost');
        },
        onRelease: () => void released.push('first'),
      }),
      wrappedNodeBackend({
        name: 'second',
        priority: 900,
        beforeCreateSession: () => {
          opening();
          return new Promise<void>((resolve) => (letOpen = resolve));
        },
        onRelease: () => void released.push('second'),
      }),
    ]);
    try {
      const model = await weft.load(storyModel, { backend: 'first', failover: { backends: ['second'] } });
      // With failover, a run first awaits its backend: unsubscribed then, it never starts.
      const early: GenerationEvent[] = [];
      model.generate(long).subscribe((e) => early.push(e)).unsubscribe();
      await until(() => store.busy() === 0 && runs === 0, 'an early unsubscribe');
      await new Promise((r) => setTimeout(r, 20));
      expect(early).toEqual([]);
      expect(runs).toBe(0);
      const seen: GenerationEvent[] = [];
      const subscription = model.generate(long).subscribe((e) => seen.push(e));
      await within(started, 'the failover to open the next backend');
      subscription.unsubscribe();
      letOpen();
      await until(() => store.busy() === 0, 'the store to come back');
      expect(store.problems).toEqual([]);
      expect(seen.some((e) => e.type === 'failover')).toBe(false);
      // The model goes on on the backend the failover opened.
      expect(done(await within(collect(model.generate({ prompt: 'Tom', maxTokens: 3 })), 'a later stream')).finishReason).toBe('length');
      await model.dispose();
      expect(released.sort()).toEqual(['first', 'second']);
    } finally {
      await weft.dispose();
    }
  });
});
