/**
 * A request stopped while its forward pass hangs (a backend whose `run` does not settle): the
 * stream ends at once, the run's signal aborts (with the request's signal or the model's disposal;
 * on a session that watches its runs' signals, also on unsubscribe), and the pass's outputs, its feeds and the KV cache
 * are released once it settles, however late; until then the run still counts in `activeRuns`.
 */
import { describe, expect, it } from 'vitest';
import { ModelDisposedError, type GenerationEvent, type WeftModel } from '../src/index.js';
import { fixture } from './helpers.js';
import { expectHeldThenReleased, expectReleasedAfterPass, holdingBackend, leaked, runtimePerTest, until, type HoldingBackend } from './session-lifecycle-backend.js';

const { load, runtime, dispose } = runtimePerTest();

/**
 * Subscribes to a long generation and holds the forward pass after its third token. Resolves with
 * the events so far once that pass waits at the gate, with how the stream ends.
 */
async function holdAfterThirdToken(model: WeftModel, backend: HoldingBackend, signal?: AbortSignal) {
  const events: GenerationEvent[] = [];
  let unsubscribe: () => void = () => {};
  const ended = new Promise<unknown>((resolve) => {
    const subscription = model.generate({ prompt: 'Once upon a time', maxTokens: 50, ignoreEos: true, ...(signal ? { signal } : {}) }).subscribe({
      next(event) {
        events.push(event);
        if (event.type === 'token' && event.index === 2) backend.runs.close();
      },
      error: resolve,
      complete: () => resolve('complete'),
    });
    unsubscribe = () => subscription.unsubscribe();
  });
  await backend.runs.reached();
  return { events, ended, unsubscribe };
}

describe('stopping a request while its forward pass hangs', () => {
  it('an aborted request ends with finishReason abort without waiting for the pass; its outputs are disposed when they arrive', async () => {
    const backend = holdingBackend('holding');
    const model = await load(backend);
    const controller = new AbortController();
    const { events, ended } = await holdAfterThirdToken(model, backend, controller.signal);
    controller.abort();
    // Before: the stream waited for the pass, which here never comes until the gate opens.
    expect(await ended).toBe('complete');
    const done = events.at(-1);
    expect(done?.type === 'done' && done.finishReason).toBe('abort');
    expect(events.filter((e) => e.type === 'token')).toHaveLength(3);
    // The run got a signal, aborted with the request, for a backend that can cancel.
    expect(backend.signals.at(-1)?.aborted).toBe(true);
    // Still counted, and still holding its feeds and cache: the pass has not settled.
    await expectHeldThenReleased(model, backend);
    // The model goes on serving.
    const next = await model.text({ prompt: 'Once upon a time', maxTokens: 3 });
    expect(next.length).toBeGreaterThan(0);
  });

  it('an unsubscribed request stops waiting at once and releases everything once the pass settles, with or without a signal', async () => {
    for (const withSignal of [false, true]) {
      const backend = holdingBackend('holding');
      const model = await load(backend);
      const signal = withSignal ? new AbortController().signal : undefined;
      const { unsubscribe, ended } = await holdAfterThirdToken(model, backend, signal);
      // The run's signal is the request's own, or the model's disposal signal without one (no
      // per-request controller on the way to the first token); an unsubscribe aborts neither.
      if (signal) expect(backend.signals.at(-1)).toBe(signal);
      unsubscribe();
      expect(backend.signals.at(-1)?.aborted).toBe(false);
      expect(model.activeRuns).toBe(1);
      backend.runs.open();
      await until(() => model.activeRuns === 0);
      expect(model.activeRuns).toBe(0);
      expect(leaked(backend.live)).toEqual([]);
      void ended;
      await dispose();
    }
  });

  it('on a session that watches its runs’ signals, an unsubscribe or a dispose aborts the run’s signal, with or without a request signal (review 28)', async () => {
    for (const [end, withSignal] of [
      ['unsubscribe', false],
      ['unsubscribe', true],
      ['dispose', true],
    ] as const) {
      const backend = holdingBackend('holding', { watchesRunSignal: true });
      const model = await load(backend);
      const signal = withSignal ? new AbortController().signal : undefined;
      const { unsubscribe, ended } = await holdAfterThirdToken(model, backend, signal);
      // A signal of the generation's own (the web backend's queue refuses a run whose signal aborted
      // while it waited: before, a client that left still cost its queued pass).
      const runSignal = backend.signals.at(-1)!;
      expect(runSignal).not.toBe(signal);
      expect(backend.signals.every((s) => s === runSignal)).toBe(true);
      expect(runSignal.aborted).toBe(false);
      if (end === 'unsubscribe') unsubscribe();
      else void model.dispose();
      expect(runSignal.aborted).toBe(true);
      if (end === 'unsubscribe') expect((runSignal.reason as Error).name).toBe('AbortError');
      else expect(ModelDisposedError.isInstance(runSignal.reason)).toBe(true);
      expect(signal?.aborted).not.toBe(true);
      backend.runs.open();
      await until(() => model.activeRuns === 0);
      expect(leaked(backend.live)).toEqual([]);
      void ended;
      await dispose();
    }
  });

  it('with a run timeout, an aborted request still keeps its feeds and counts in activeRuns until the run itself settles, not until the timeout fires', async () => {
    const backend = holdingBackend('holding');
    const model = await load(backend, { failover: { runTimeoutMs: 20 } });
    const controller = new AbortController();
    const { ended } = await holdAfterThirdToken(model, backend, controller.signal);
    controller.abort();
    expect(await ended).toBe('complete');
    // Well past the timeout, which rejects the pool's wrapped promise while the run goes on.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(model.activeRuns).toBe(1);
    const held = leaked(backend.live).length;
    backend.runs.open();
    await until(() => model.activeRuns === 0);
    // The feeds and cache were still alive while the run held them (more than its outputs alone).
    expect(held).toBeGreaterThan(0);
    expect(leaked(backend.live)).toEqual([]);
  });

  it('a run a backend cancels on its signal is no backend failure: the breaker stays closed', async () => {
    const backend = holdingBackend('holding', { cancels: true });
    const fallback = holdingBackend('fallback', { priority: 900 });
    const weft = runtime([backend.plugin, fallback.plugin]);
    // One failure would open the breaker and send the next request to the fallback.
    const model = await weft.load(fixture('tiny'), { backend: 'holding', failover: { backends: ['fallback'], breaker: { failureThreshold: 1 } } });
    const controller = new AbortController();
    const { events, ended } = await holdAfterThirdToken(model, backend, controller.signal);
    controller.abort();
    expect(await ended).toBe('complete');
    expect(events.some((e) => e.type === 'failover')).toBe(false);
    await until(() => model.activeRuns === 0);
    expect(leaked(backend.live)).toEqual([]);
    backend.runs.open();
    const next = await new Promise<GenerationEvent[]>((resolve, reject) => {
      const all: GenerationEvent[] = [];
      model.generate({ prompt: 'Once', maxTokens: 2 }).subscribe({ next: (e) => all.push(e), error: reject, complete: () => resolve(all) });
    });
    const start = next[0];
    expect(start?.type === 'start' && start.backend).toBe('holding');
  });

  it('a model disposed while a pass hangs for good: the stream ends with ModelDisposedError and dispose resolves within disposeTimeoutMs; the session is freed once the pass settles', async () => {
    const backend = holdingBackend('holding');
    const model = await load(backend, { disposeTimeoutMs: 20 });
    const { ended } = await holdAfterThirdToken(model, backend);
    // Before: dispose waited for the release, which waits for the pass, forever.
    await model.dispose();
    const error = await ended;
    expect(ModelDisposedError.isInstance(error)).toBe(true);
    expect(backend.signals.at(-1)?.aborted).toBe(true);
    // Never freed under a run: the release still waits for it.
    await expectReleasedAfterPass(model, backend);
  });
});
