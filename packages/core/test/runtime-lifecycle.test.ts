import { describe, expect, it, vi } from 'vitest';
import { BACKENDS, createWeft, definePlugin, ModelDisposedError, RuntimeDisposedError } from '../src/index.js';
import { collect, fixture, wrappedNodeBackend } from './helpers.js';

/**
 * The only backend of a runtime: onnxruntime-node with every session counted, and an optional
 * delay inside createSession (after it has started) to hold a load in flight.
 */
function countingBackend(delayMs = 0) {
  const state = { started: 0, opened: 0, released: 0 };
  let signalStarted: () => void = () => {};
  const started = new Promise<void>((resolve) => (signalStarted = resolve));
  const releasedSessions = new WeakSet<object>();
  const plugin = wrappedNodeBackend({
    name: 'counting',
    priority: 200,
    beforeCreateSession() {
      state.started++;
      signalStarted();
      if (delayMs > 0) return new Promise((r) => setTimeout(r, delayMs));
    },
    onSessionOpened: () => state.opened++,
    onRelease(session) {
      if (!releasedSessions.has(session)) state.released++;
      releasedSessions.add(session);
    },
  });
  return { plugin, state, started, live: () => state.opened - state.released };
}

const settle = async (until: () => boolean) => {
  for (let i = 0; i < 100 && !until(); i++) await new Promise((r) => setTimeout(r, 20));
};

describe('disposing a runtime', () => {
  it('rejects a load still in flight with RuntimeDisposedError and leaks no session', async () => {
    const backend = countingBackend();
    const weft = createWeft({ plugins: [backend.plugin] });
    const pending = weft.load(fixture('tiny'));
    await weft.dispose();
    const error = await pending.catch((e: unknown) => e);
    expect(RuntimeDisposedError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/disposed while .*tiny was loading; the load stopped and released what it had opened\. Create a new runtime with createWeft\(\)/);
    await settle(() => backend.live() === 0);
    expect(backend.live()).toBe(0);
  });

  it('ends a load whose createSession is running at once; dispose waits for the late session and releases it before resolving', async () => {
    const backend = countingBackend(300);
    const weft = createWeft({ plugins: [backend.plugin] });
    const order: string[] = [];
    const pending = weft.load(fixture('tiny'));
    pending.catch(() => order.push('load rejected'));
    await backend.started;
    await weft.dispose();
    order.push('dispose resolved');
    await expect(pending).rejects.toThrow(RuntimeDisposedError);
    expect(order).toEqual(['load rejected', 'dispose resolved']);
    // Waited for (at most the load's disposeTimeoutMs: test/session-lifecycle-dispose.test.ts).
    expect(backend.state.opened).toBe(1);
    expect(backend.live()).toBe(0);
  });

  it('disposes models it loaded, and refuses load, use and get afterwards with the fix in the message', async () => {
    const backend = countingBackend();
    const weft = createWeft({ plugins: [backend.plugin] });
    const model = await weft.load(fixture('tiny'));
    expect(backend.live()).toBe(1);
    const first = weft.dispose();
    expect(weft.dispose()).toBe(first);
    await first;
    expect(backend.live()).toBe(0);
    await expect(collect(model.generate({ prompt: 'x' }))).rejects.toThrow(ModelDisposedError);

    const load = await weft.load(fixture('tiny')).catch((e: unknown) => e);
    expect(RuntimeDisposedError.isInstance(load)).toBe(true);
    expect((load as Error).message).toBe('Cannot load a model: this Weft runtime was disposed; create a new one with createWeft().');
    await expect(weft.use(definePlugin({ name: 'late', version: '1.0.0', apiVersion: '^0.1.0', setup() {} }))).rejects.toThrow(
      /Cannot install a plugin: this Weft runtime was disposed/,
    );
    expect(() => weft.get(BACKENDS)).toThrow(RuntimeDisposedError);
    expect(backend.state.started).toBe(1);
    await weft.dispose();
  });

  it('lets a new runtime load what a disposed one was loading', async () => {
    const backend = countingBackend();
    const old = createWeft({ plugins: [backend.plugin] });
    const pending = old.load(fixture('tiny'));
    await old.dispose();
    await pending.catch(() => {});
    const fresh = createWeft({ plugins: [countingBackend().plugin] });
    const model = await fresh.load(fixture('tiny'));
    expect(model.backend).toBe('counting');
    await fresh.dispose();
  });

  it('stops waiting for a plugin setup that never finishes, so nothing holds the process', async () => {
    // The setup's deadline is the only timer with this delay; watch that one rather than counting
    // the process's timers (other tests' timers come and go meanwhile).
    const deadlineMs = 600_000;
    const deadlines: NodeJS.Timeout[] = [];
    const realSetTimeout = globalThis.setTimeout;
    const spy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((callback: () => void, ms?: number) => {
      const timer = realSetTimeout(callback, ms);
      if (ms === deadlineMs) deadlines.push(timer);
      return timer;
    }) as typeof setTimeout);
    const cleared = vi.spyOn(globalThis, 'clearTimeout');
    try {
      const weft = createWeft({
        plugins: [definePlugin({ name: 'hangs', version: '1.0.0', apiVersion: '^0.1.0', setup: () => new Promise<void>(() => {}) })],
        setupTimeoutMs: deadlineMs,
      });
      const ready = weft.ready().catch((e: unknown) => e);
      await new Promise((resolve) => realSetTimeout(resolve, 20));
      expect(deadlines).toHaveLength(1);
      expect(deadlines[0]!.hasRef()).toBe(true);
      await weft.dispose();
      const error = await ready;
      expect(RuntimeDisposedError.isInstance(error)).toBe(true);
      // The message names what was cut short (nothing was loading here).
      expect((error as Error).message).toMatch(/plugin setup/);
      // Cleared, so it neither holds the process nor fires.
      expect(cleared).toHaveBeenCalledWith(deadlines[0]);
    } finally {
      spy.mockRestore();
      cleared.mockRestore();
    }
  });
});

describe('disposing a model', () => {
  it('resolves every dispose() call, and a weft.dispose() meanwhile, only once its session is released', async () => {
    let finishRelease: () => void = () => {};
    const releasing = new Promise<void>((resolve) => (finishRelease = resolve));
    const log: string[] = [];
    const weft = createWeft({ plugins: [wrappedNodeBackend({ name: 'slow-release', priority: 200, beforeRelease: () => releasing.then(() => void log.push('released')) })] });
    const model = await weft.load(fixture('tiny'));
    const first = model.dispose();
    const second = model.dispose();
    expect(second).toBe(first);
    const runtimeDisposed = weft.dispose();
    void second.then(() => log.push('model.dispose'));
    void runtimeDisposed.then(() => log.push('weft.dispose'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(log).toEqual([]);
    await expect(collect(model.generate({ prompt: 'x' }))).rejects.toThrow(ModelDisposedError);
    finishRelease();
    await runtimeDisposed;
    await first;
    expect(log[0]).toBe('released');
    expect(log.slice(1).sort()).toEqual(['model.dispose', 'weft.dispose']);
  });
});
