import { describe, expect, it } from 'vitest';
import { BackendError, ModelDisposedError, type GenerationEvent, type WeftModel } from '../src/index.js';
import { collect, fixture, runtime, wrappedNodeBackend } from './helpers.js';

/** Two onnxruntime-node backends, `first` preferred, that count the sessions they open and release. */
function countingBackends() {
  const sessions = { opened: [] as string[], released: [] as string[] };
  const counted = (name: string, priority: number) =>
    wrappedNodeBackend({ name, priority, onSessionOpened: () => sessions.opened.push(name), onRelease: () => sessions.released.push(name) });
  return { plugins: [counted('first', 1000), counted('second', 900)], sessions };
}

/** Starts a long generation, disposes the model after its third token, and collects what the stream saw. */
async function disposeAfterThirdToken(failover: boolean) {
  const { plugins, sessions } = countingBackends();
  const weft = runtime(plugins);
  const model = await weft.load(fixture('tiny'), { backend: 'first', failover });
  const events: GenerationEvent[] = [];
  const error = await new Promise<unknown>((resolve) => {
    model.generate({ prompt: 'Once upon a time', maxTokens: 200, ignoreEos: true }).subscribe({
      next(event) {
        events.push(event);
        if (event.type === 'token' && event.index === 2) void model.dispose();
      },
      error: resolve,
      complete: () => resolve(undefined),
    });
  });
  await weft.dispose();
  return { error, events, sessions };
}

describe('disposing a model while it generates', () => {
  it('ends the stream with ModelDisposedError within a step, with failover on, and opens no other backend', async () => {
    const { error, events, sessions } = await disposeAfterThirdToken(true);
    expect(ModelDisposedError.isInstance(error)).toBe(true);
    expect(events.some((e) => e.type === 'failover')).toBe(false);
    expect(events.filter((e) => e.type === 'token').length).toBeLessThanOrEqual(4);
    expect(sessions.opened).toEqual(['first']);
    expect(sessions.released).toEqual(['first']);
  });

  it('ends the stream with ModelDisposedError, not a backend failure, without failover', async () => {
    const { error, sessions } = await disposeAfterThirdToken(false);
    expect(ModelDisposedError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/disposed while it was running/);
    expect(sessions.released).toEqual(sessions.opened);
  });

  it('ends with ModelDisposedError also when the backend rejects the run in flight with a Weft error of its own', async () => {
    let model: WeftModel | undefined;
    let runs = 0;
    const weft = runtime([
      wrappedNodeBackend({
        name: 'rejecting',
        priority: 1000,
        afterRun: () => {
          // As a backend whose release fails the run in flight (the web backend does) might.
          if (++runs === 3) {
            void model!.dispose();
            throw new BackendError('Session already disposed.', { backend: 'rejecting' });
          }
        },
      }),
    ]);
    try {
      model = await weft.load(fixture('tiny'), { backend: 'rejecting' });
      const error = await collect(model.generate({ prompt: 'Once upon a time', maxTokens: 50, ignoreEos: true })).catch((e: unknown) => e);
      expect(ModelDisposedError.isInstance(error)).toBe(true);
    } finally {
      await weft.dispose();
    }
  });

  it('waits at most disposeTimeoutMs for a fallback session still opening: the stream ends at once, dispose resolves, and the session is released when it arrives', async () => {
    const sessions = { opened: [] as string[], released: [] as string[] };
    let runs = 0;
    let letOpen: () => void = () => {};
    let fallbackStarted: () => void = () => {};
    const started = new Promise<void>((resolve) => (fallbackStarted = resolve));
    const weft = runtime([
      wrappedNodeBackend({
        name: 'first',
        priority: 1000,
        beforeRun: () => {
          if (++runs >= 3) throw new Error('device lost');
        },
        onSessionOpened: () => sessions.opened.push('first'),
        onRelease: () => void sessions.released.push('first'),
      }),
      wrappedNodeBackend({
        name: 'second',
        priority: 900,
        beforeCreateSession: () => {
          fallbackStarted();
          return new Promise<void>((resolve) => (letOpen = resolve));
        },
        onSessionOpened: () => sessions.opened.push('second'),
        onRelease: () => void sessions.released.push('second'),
      }),
    ]);
    // dispose waits for a session still opening (test/session-lifecycle-dispose.test.ts), here at most 50 ms.
    const model = await weft.load(fixture('tiny'), { backend: 'first', failover: { backends: ['second'] }, disposeTimeoutMs: 50 });
    const ended = collect(model.generate({ prompt: 'Once upon a time', maxTokens: 20 })).then(() => undefined, (e: unknown) => e);
    await started;
    try {
      const waitedFor = (work: Promise<unknown>) => Promise.race([work.then(() => 'settled'), new Promise((r) => setTimeout(() => r('still waiting'), 1000))]);
      expect(await waitedFor(model.dispose())).toBe('settled');
      expect(await waitedFor(ended)).toBe('settled');
      expect(ModelDisposedError.isInstance(await ended)).toBe(true);
    } finally {
      letOpen();
    }
    for (let i = 0; i < 100 && sessions.released.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(sessions.opened).toEqual(['first', 'second']);
    expect(sessions.released.sort()).toEqual(['first', 'second']);
    await weft.dispose();
  });
});
