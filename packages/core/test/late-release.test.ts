/**
 * A run past `failover.runTimeoutMs` is abandoned, not stopped: nothing it was fed (its step's
 * feeds, float16 copies of the cache, the KV store's tensors) is disposed until the backend's own
 * run settles, and then all of it is, with the run's late outputs; the stream does not wait for it.
 * The first backend is onnxruntime-node under another name whose chosen run hangs at a gate until
 * the test opens it; the fallback is the real node backend.
 */
import { getEventListeners } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import {
  BackendError,
  CacheKeyRerotation,
  createWeft,
  definePlugin,
  FullPrecisionKvStore,
  InvalidOptionsError,
  type BackendTensor,
  type GenerationEvent,
  type KvCacheInit,
  type WeftModel,
  type WeftPlugin,
} from '../src/index.js';
import { HalfCacheBridge } from '../src/generation/kv/half-cache-bridge.js';
import { collect, done, fixture, runtime, wrappedNodeBackend } from './helpers.js';
import { Gate, leaked, runtimePerTest, until } from './session-lifecycle-backend.js';
import { windowRouter } from './window-router.js';

const { runtime: freshRuntime } = runtimePerTest();

/**
 * Long enough for the fixture's real runs on a loaded machine; the hung run exceeds it for good (each
 * case waits for it once, the request-instance ones up to twice: keep the file within ~15 s).
 */
const RUN_TIMEOUT_MS = 700;
const PROMPT = 'Once upon a time, there was a little fox named';
const MAX_TOKENS = 10;

interface HungRun {
  /** The tensors the hung run was fed (feeds and `past_key_values.*`), by input name. */
  readonly fed: Readonly<Record<string, BackendTensor>>;
  /**
   * Every tensor of the backend alive as the run started: its feeds, the store's tensors, and what
   * core made for the step besides (re-rotated keys, float16 copies of the cache).
   */
  readonly alive: readonly BackendTensor[];
  /** Inputs whose tensor had been disposed when the run was let go, before it settled. */
  disposedEarly: string[] | undefined;
  /** How many of {@link alive} had been disposed when the run was let go, before it settled. */
  aliveDisposedEarly: number | undefined;
  /** The outputs it returned once let go (fulfil mode). */
  outputs: BackendTensor[];
  settled: boolean;
}

/**
 * onnxruntime-node as backend `slow` (above the node backend), tracking every tensor its sessions
 * create or return in `live`. Its run number `hangAt` waits at `gate`; once let go it records which
 * of its feeds had been disposed meanwhile, then runs (`fulfil`), fails (`reject`) or resolves
 * with null (`nothing`, a broken backend).
 */
function hangingBackend(hangAt: number, settle: 'fulfil' | 'reject' | 'nothing') {
  const live = new Set<BackendTensor>();
  const gate = new Gate();
  gate.close();
  const hung: HungRun[] = [];
  let runs = 0;
  const plugin = wrappedNodeBackend({
    name: 'slow',
    priority: 1000,
    liveTensors: live,
    wrapSession: (s) => ({
      ...s,
      async run(feeds, options) {
        if (++runs !== hangAt) return s.run(feeds, options);
        const run: HungRun = { fed: { ...feeds }, alive: [...live], disposedEarly: undefined, aliveDisposedEarly: undefined, outputs: [], settled: false };
        hung.push(run);
        try {
          await gate.pass();
          run.disposedEarly = Object.keys(run.fed).filter((name) => !live.has(run.fed[name]!));
          run.aliveDisposedEarly = run.alive.filter((t) => !live.has(t)).length;
          if (settle === 'reject') throw new Error('late device error');
          if (settle === 'nothing') return null as never;
          const outputs = await s.run(feeds, options);
          run.outputs = Object.values(outputs);
          return outputs;
        } finally {
          run.settled = true;
        }
      },
    }),
  });
  return { plugin, live, gate, hung };
}

async function referenceIds(model: string, kv?: string): Promise<(readonly number[])[]> {
  const weft = runtime(kv === undefined ? [] : [countedStore().plugin]);
  try {
    const loaded = await weft.load(fixture(model));
    return done(await collect(loaded.generate({ prompt: PROMPT, maxTokens: MAX_TOKENS, ...(kv === undefined ? {} : { kv }) }))).rows.map((r) => r.ids);
  } finally {
    await weft.dispose();
  }
}

/** A plugin's `counted` kv-cache entry (not the default): full precision, logging each instance's begin and dispose. */
function countedStore() {
  const made: CountedStore[] = [];
  const log: string[] = [];
  const optionsSeen: unknown[] = [];
  class CountedStore extends FullPrecisionKvStore {
    override readonly name = 'counted';
    readonly index = made.length;
    override begin(init: KvCacheInit): void {
      log.push(`begin ${this.index}`);
      super.begin(init);
    }
    override dispose(): void {
      log.push(`dispose ${this.index}`);
      super.dispose();
    }
  }
  const plugin: WeftPlugin = definePlugin({
    name: 'counted-store',
    version: '1.0.0',
    apiVersion: '^0.1.0',
    setup(ctx) {
      ctx.register('kv-cache', {
        name: 'counted',
        create: (options) => {
          optionsSeen.push(options);
          const store = new CountedStore();
          made.push(store);
          return store;
        },
      });
    },
  });
  return { plugin, made, log, optionsSeen };
}


/** A store instance for the request (`kv: instance`) whose `log` says, at each dispose, whether the hung run had settled. */
function loggedStore(backend: ReturnType<typeof hangingBackend>) {
  const log: string[] = [];
  const instance = new (class extends FullPrecisionKvStore {
    override dispose(): void {
      log.push(backend.hung[0]?.settled === true ? 'dispose after the late run' : 'dispose before the late run settled');
      super.dispose();
    }
  })();
  return { instance, log };
}

/** The stream's events; it must complete (a failover, not an error). */
async function stream(model: WeftModel, extra: Record<string, unknown> = {}): Promise<GenerationEvent[]> {
  return collect(model.generate({ prompt: PROMPT, maxTokens: MAX_TOKENS, ...extra }));
}

/** The assertions every case shares once the stream has completed while the hung run still waits at the gate. */
async function expectReleasedOnlyAfterSettling(model: WeftModel, backend: ReturnType<typeof hangingBackend>, events: GenerationEvent[], expected: (readonly number[])[] | undefined) {
  const failover = events.find((e) => e.type === 'failover');
  expect(failover).toMatchObject({ from: 'slow', to: 'node', reason: expect.stringContaining(`longer than ${RUN_TIMEOUT_MS} ms`) });
  if (expected !== undefined) expect(done(events).rows.map((r) => r.ids)).toEqual(expected);
  else expect(done(events).finishReason).not.toBe('abort');
  // The stream completed while the timed-out run was still pending: it did not wait for it.
  const [run] = backend.hung;
  expect(backend.hung).toHaveLength(1);
  expect(run!.settled).toBe(false);
  // Past keys and values were fed (a decode step, not the prefill), and none of it is freed yet.
  expect(Object.keys(run!.fed).filter((n) => n.startsWith('past_key_values.'))).not.toHaveLength(0);
  expect(Object.keys(run!.fed).filter((name) => !backend.live.has(run!.fed[name]!))).toEqual([]);
  // The late run counts until it settles.
  expect(model.activeRuns).toBe(1);
  backend.gate.open();
  await until(() => model.activeRuns === 0);
  expect(model.activeRuns).toBe(0);
  expect(run!.settled).toBe(true);
  expect(run!.disposedEarly).toEqual([]);
  expect(run!.aliveDisposedEarly).toBe(0);
  // Once it settled: its feeds, the cache it read and its outputs are all freed (nothing of the slow backend leaks).
  for (const tensor of [...Object.values(run!.fed), ...run!.outputs]) expect(backend.live.has(tensor)).toBe(false);
  expect(leaked(backend.live)).toEqual([]);
}


/** Lets the hung run settle, then checks that what it was fed and the request's store were freed only then, and nothing leaks. */
async function openAndExpectLateDispose(
  backend: ReturnType<typeof hangingBackend>,
  loaded: { readonly activeRuns: number },
  run: ReturnType<typeof hangingBackend>['hung'][number],
  log: readonly string[],
): Promise<void> {
  backend.gate.open();
  await until(() => loaded.activeRuns === 0);
  expect(run.disposedEarly).toEqual([]);
  expect(run.aliveDisposedEarly).toBe(0);
  expect(log).toEqual(['dispose after the late run']);
  expect(leaked(backend.live)).toEqual([]);
}

describe('a run past runTimeoutMs keeps what it was fed until it settles', () => {
  for (const model of ['tiny', 'tiny-fp16']) {
    it(`fails over at once, and frees the feeds and the default store's cache only when the late run fulfils (${model})`, async () => {
      const expected = await referenceIds(model);
      const backend = hangingBackend(4, 'fulfil');
      const loaded = await freshRuntime([backend.plugin]).load(fixture(model), { backend: 'slow', failover: { runTimeoutMs: RUN_TIMEOUT_MS } });
      const events = await stream(loaded);
      await expectReleasedOnlyAfterSettling(loaded, backend, events, expected);
      // The model goes on serving (the default store's pool included).
      expect(done(await stream(loaded)).rows.map((r) => r.ids)).toEqual(expected);
    });
  }

  it('keeps the re-rotated keys and float16 copies of the cache it was fed too (a positions=cache router on a float16 model)', async () => {
    const apply = vi.spyOn(CacheKeyRerotation.prototype, 'apply');
    const toGraph = vi.spyOn(HalfCacheBridge.prototype, 'toGraph');
    try {
      const backend = hangingBackend(4, 'fulfil');
      const loaded = await freshRuntime([backend.plugin]).load(fixture('tiny-fp16'), { backend: 'slow', failover: { runTimeoutMs: RUN_TIMEOUT_MS } });
      // A window shorter than the prompt: the cache is evicted from the prefill on, so every later
      // step feeds re-rotated keys, converted to float16 with the values (the half-cache bridge).
      const events = await stream(loaded, { router: windowRouter(6, 'cache') });
      const run = backend.hung[0]!;
      // What core made for the hung step (the tensors of other steps were disposed by then).
      const madeForRun = (results: readonly { type: string; value: unknown }[]) =>
        results.flatMap((r) => (r.type === 'return' ? (r.value as BackendTensor[]) : [])).filter((t) => run.alive.includes(t));
      const rotated = madeForRun(apply.mock.results);
      const halved = madeForRun(toGraph.mock.results);
      expect(rotated).not.toHaveLength(0);
      expect(halved).not.toHaveLength(0);
      // The float16 copies are the past tensors the run was fed; the re-rotated keys went into them.
      const fed = Object.values(run.fed);
      for (const t of halved) expect(fed.includes(t)).toBe(true);
      // A failover prefill attends the whole history, unlike the window: no reference ids to compare with.
      await expectReleasedOnlyAfterSettling(loaded, backend, events, undefined);
      for (const t of [...rotated, ...halved]) expect(backend.live.has(t)).toBe(false);
    } finally {
      apply.mockRestore();
      toGraph.mockRestore();
    }
  });

  it('frees them likewise when the late run rejects', async () => {
    const expected = await referenceIds('tiny');
    const backend = hangingBackend(3, 'reject');
    const loaded = await freshRuntime([backend.plugin]).load(fixture('tiny'), { backend: 'slow', failover: { runTimeoutMs: RUN_TIMEOUT_MS } });
    await expectReleasedOnlyAfterSettling(loaded, backend, await stream(loaded), expected);
  });

  it('frees them likewise when the late run resolves with no outputs object (no unhandled rejection)', async () => {
    const expected = await referenceIds('tiny');
    const backend = hangingBackend(4, 'nothing');
    const loaded = await freshRuntime([backend.plugin]).load(fixture('tiny'), { backend: 'slow', failover: { runTimeoutMs: RUN_TIMEOUT_MS } });
    await expectReleasedOnlyAfterSettling(loaded, backend, await stream(loaded), expected);
  });

  it("goes on with another instance of a plugin's store entry (same options), disposing the first only once the late run settled", async () => {
    const expected = await referenceIds('tiny', 'counted');
    const store = countedStore();
    const backend = hangingBackend(4, 'fulfil');
    const loaded = await freshRuntime([backend.plugin, store.plugin]).load(fixture('tiny'), { backend: 'slow', failover: { runTimeoutMs: RUN_TIMEOUT_MS } });
    const options = { note: 'kept' };
    const events = await stream(loaded, { kv: { name: 'counted', options } });
    expect(events[0]).toMatchObject({ type: 'start', kv: 'counted' });
    // The second instance came from the same entry with the same options; the first is not disposed yet.
    expect(store.optionsSeen).toEqual([options, options]);
    expect(store.log).toEqual(['begin 0', 'begin 1', 'dispose 1']);
    await expectReleasedOnlyAfterSettling(loaded, backend, events, expected);
    expect(store.log).toEqual(['begin 0', 'begin 1', 'dispose 1', 'dispose 0']);
  });

  it('waits for the late run before beginning again a store instance the request passed (it has no twin), when it settles within another run timeout', async () => {
    const expected = await referenceIds('tiny');
    const backend = hangingBackend(4, 'fulfil');
    const loaded = await freshRuntime([backend.plugin]).load(fixture('tiny'), { backend: 'slow', failover: { runTimeoutMs: RUN_TIMEOUT_MS } });
    const { instance, log } = loggedStore(backend);
    let failedOver!: () => void;
    const failoverSeen = new Promise<void>((resolve) => (failedOver = resolve));
    const events: GenerationEvent[] = [];
    let completed = false;
    const ended = new Promise<void>((resolve, reject) =>
      loaded.generate({ prompt: PROMPT, maxTokens: MAX_TOKENS, kv: instance }).subscribe({
        next: (e) => (events.push(e), e.type === 'failover' && failedOver()),
        error: reject,
        complete: () => ((completed = true), resolve()),
      }),
    );
    await failoverSeen;
    expect(completed).toBe(false);
    expect(log).toEqual([]);
    const run = backend.hung[0]!;
    expect(Object.keys(run.fed).filter((name) => !backend.live.has(run.fed[name]!))).toEqual([]);
    backend.gate.open();
    await ended;
    expect(run.disposedEarly).toEqual([]);
    expect(done(events).rows.map((r) => r.ids)).toEqual(expected);
    // Disposed once for the failover (after the late run) and once at the end of the run.
    expect(log).toEqual(['dispose after the late run', 'dispose after the late run']);
    await until(() => loaded.activeRuns === 0);
    expect(leaked(backend.live)).toEqual([]);
  });

  it("fails the stream with a BackendError when the late run still holds the request's store instance after another run timeout; the store is freed once the run settles", async () => {
    const backend = hangingBackend(4, 'fulfil');
    const loaded = await freshRuntime([backend.plugin]).load(fixture('tiny'), { backend: 'slow', failover: { runTimeoutMs: RUN_TIMEOUT_MS } });
    const { instance, log } = loggedStore(backend);
    const events: GenerationEvent[] = [];
    // The gate stays closed until the end: the late run does not settle in time.
    const error = await new Promise<unknown>((resolve) =>
      loaded.generate({ prompt: PROMPT, maxTokens: MAX_TOKENS, kv: instance }).subscribe({ next: (e) => void events.push(e), error: resolve, complete: () => resolve(undefined) }),
    );
    expect(events.some((e) => e.type === 'failover')).toBe(true);
    expect(BackendError.isInstance(error)).toBe(true);
    expect((error as BackendError).backend).toBe('slow');
    expect((error as Error).message).toBe(
      "The run on slow passed its timeout and still holds the KV store instance the request passed, so the stream cannot go on; pass the store by name ({ name, options }) so a timed-out run's store can be replaced.",
    );
    const run = backend.hung[0]!;
    expect(run.settled).toBe(false);
    // The late run alone counts; it may still read the store, which stays claimed and alive.
    expect(loaded.activeRuns).toBe(1);
    expect(log).toEqual([]);
    const reuse = await collect(loaded.generate({ prompt: PROMPT, maxTokens: 2, kv: instance })).then(() => undefined, (e: unknown) => e);
    expect(InvalidOptionsError.isInstance(reuse)).toBe(true);
    await openAndExpectLateDispose(backend, loaded, run, log);
  });

  it("an abort while the stream waits for the late run to let go of the request's store ends it at once; only the late run counts in activeRuns", async () => {
    const backend = hangingBackend(4, 'fulfil');
    const loaded = await freshRuntime([backend.plugin]).load(fixture('tiny'), { backend: 'slow', failover: { runTimeoutMs: RUN_TIMEOUT_MS } });
    const { instance, log } = loggedStore(backend);
    const aborting = new AbortController();
    const events: GenerationEvent[] = [];
    await new Promise<void>((resolve, reject) =>
      loaded.generate({ prompt: PROMPT, maxTokens: MAX_TOKENS, kv: instance, signal: aborting.signal }).subscribe({
        next: (e) => {
          events.push(e);
          if (e.type === 'failover') aborting.abort();
        },
        error: reject,
        complete: resolve,
      }),
    );
    expect(done(events).finishReason).toBe('abort');
    const run = backend.hung[0]!;
    // The generation's own count ends a few microtasks after its stream completed.
    await until(() => loaded.activeRuns <= 1);
    expect(run.settled).toBe(false);
    // Counted once: by the late release, not by the generation waiting for the same run as well.
    expect(loaded.activeRuns).toBe(1);
    expect(log).toEqual([]);
    await openAndExpectLateDispose(backend, loaded, run, log);
  });

  it('lets go of a router instance the request passed at once, and of its store instance only once the late run settled', async () => {
    const backend = hangingBackend(4, 'fulfil');
    // The slow backend alone: the stream fails after the timeout, the late run still reading the store.
    const weft = createWeft({ plugins: [backend.plugin] });
    try {
      const loaded = await weft.load(fixture('tiny'), { failover: { runTimeoutMs: RUN_TIMEOUT_MS } });
      const router = windowRouter(64, 'absolute');
      const store = new FullPrecisionKvStore();
      const error = await stream(loaded, { kv: store, router }).then(() => undefined, (e: unknown) => e);
      expect(String((error as Error).message)).toContain('No backend left');
      expect(backend.hung[0]!.settled).toBe(false);
      expect(loaded.activeRuns).toBe(1);
      // The late run never reads the router: another request uses it at once.
      expect(done(await stream(loaded, { router, maxTokens: 3 })).type).toBe('done');
      // It may still read the store: that stays claimed until it settles.
      const reuse = await stream(loaded, { kv: store, maxTokens: 3 }).then(() => undefined, (e: unknown) => e);
      expect(InvalidOptionsError.isInstance(reuse)).toBe(true);
      backend.gate.open();
      await until(() => loaded.activeRuns === 0);
      expect(done(await stream(loaded, { kv: store, router, maxTokens: 3 })).type).toBe('done');
      expect(leaked(backend.live)).toEqual([]);
    } finally {
      await weft.dispose();
    }
  });

  it('with no backend left, the stream fails at once; the store and the feeds are freed only once the late run settles', async () => {
    const store = countedStore();
    const backend = hangingBackend(4, 'fulfil');
    // The slow backend alone: the failover after the timeout finds nothing to continue on.
    const weft = createWeft({ plugins: [backend.plugin, store.plugin] });
    try {
      const loaded = await weft.load(fixture('tiny'), { failover: { runTimeoutMs: RUN_TIMEOUT_MS } });
      const error = await stream(loaded, { kv: 'counted' }).then(() => undefined, (e: unknown) => e);
      expect(BackendError.isInstance(error)).toBe(true);
      expect(String((error as Error).message)).toContain('No backend left');
      const run = backend.hung[0]!;
      expect(run.settled).toBe(false);
      expect(store.log).toEqual(['begin 0']);
      expect(Object.keys(run.fed).filter((name) => !backend.live.has(run.fed[name]!))).toEqual([]);
      expect(loaded.activeRuns).toBe(1);
      backend.gate.open();
      await until(() => loaded.activeRuns === 0);
      expect(run.disposedEarly).toEqual([]);
      expect(store.log).toEqual(['begin 0', 'dispose 0']);
      for (const tensor of [...Object.values(run.fed), ...run.outputs]) expect(backend.live.has(tensor)).toBe(false);
      expect(leaked(backend.live)).toEqual([]);
    } finally {
      await weft.dispose();
    }
  });

  it('evaluate rejects at the timeout and frees its feeds and store only once the late run settles', async () => {
    const backend = hangingBackend(3, 'reject');
    const loaded = await freshRuntime([backend.plugin]).load(fixture('tiny'), { backend: 'slow', failover: { runTimeoutMs: RUN_TIMEOUT_MS } });
    const error = await loaded.evaluate({ inputIds: loaded.tokenizer.encode(PROMPT) }).then(() => undefined, (e: unknown) => e);
    expect(BackendError.isInstance(error)).toBe(true);
    const run = backend.hung[0]!;
    expect(run.settled).toBe(false);
    expect(Object.keys(run.fed).filter((n) => n.startsWith('past_key_values.'))).not.toHaveLength(0);
    expect(Object.keys(run.fed).filter((name) => !backend.live.has(run.fed[name]!))).toEqual([]);
    expect(loaded.activeRuns).toBe(1);
    backend.gate.open();
    await until(() => loaded.activeRuns === 0);
    expect(run.disposedEarly).toEqual([]);
    expect(leaked(backend.live)).toEqual([]);
  });

  it('evaluate lets go of the request signal and a router instance at its timeout, and of its store instance only once the late run settled', async () => {
    const backend = hangingBackend(3, 'reject');
    const loaded = await freshRuntime([backend.plugin]).load(fixture('tiny'), { backend: 'slow', failover: { runTimeoutMs: RUN_TIMEOUT_MS } });
    const inputIds = loaded.tokenizer.encode(PROMPT);
    const signal = new AbortController().signal;
    const router = windowRouter(64, 'absolute');
    const store = new FullPrecisionKvStore();
    const error = await loaded.evaluate({ inputIds, router, kv: store, signal }).then(() => undefined, (e: unknown) => e);
    expect(BackendError.isInstance(error)).toBe(true);
    expect(backend.hung[0]!.settled).toBe(false);
    expect(loaded.activeRuns).toBe(1);
    // Nothing waits on the signal any more (the evaluation's waiter is closed), and the router is free.
    expect(getEventListeners(signal, 'abort')).toEqual([]);
    expect((await loaded.evaluate({ inputIds, router })).tokens).toBe(inputIds.length - 1);
    // The store is the late run's until it settles.
    const reuse = await loaded.evaluate({ inputIds, kv: store }).then(() => undefined, (e: unknown) => e);
    expect(InvalidOptionsError.isInstance(reuse)).toBe(true);
    backend.gate.open();
    await until(() => loaded.activeRuns === 0);
    expect(backend.hung[0]!.disposedEarly).toEqual([]);
    expect(backend.hung[0]!.aliveDisposedEarly).toBe(0);
    expect((await loaded.evaluate({ inputIds, kv: store })).tokens).toBe(inputIds.length - 1);
    expect(leaked(backend.live)).toEqual([]);
  });

  it('model.dispose() waits for the late run to settle and its feeds and cache to be freed', async () => {
    const backend = hangingBackend(4, 'reject');
    const loaded = await freshRuntime([backend.plugin]).load(fixture('tiny'), { backend: 'slow', failover: { runTimeoutMs: RUN_TIMEOUT_MS } });
    await stream(loaded);
    const run = backend.hung[0]!;
    let disposed = false;
    const disposing = loaded.dispose().then(() => void (disposed = true));
    // Both sessions' releases settle at once (neither waits for runs here): only the late release holds dispose back.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(disposed).toBe(false);
    expect(run.settled).toBe(false);
    backend.gate.open();
    await disposing;
    expect(run.disposedEarly).toEqual([]);
    // Nothing left to free the moment dispose resolved.
    expect(leaked(backend.live)).toEqual([]);
    expect(loaded.activeRuns).toBe(0);
  });
});
