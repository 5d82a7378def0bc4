/**
 * A request stopped while it waits for a backend's session to open, with failover: a stream failing
 * over to a fallback whose session is slow to open, or a new request whose primary's breaker is
 * open. The wait is bounded only by `sessionTimeoutMs` (5 minutes by default), so an abort must end
 * it at once (review 28: it waited for the session, and then sent a pass nobody would read).
 */
import { describe, expect, it } from 'vitest';
import { ModelDisposedError } from '../src/index.js';
import { collect, fixture } from './helpers.js';
import { holdingBackend, leaked, runtimePerTest, until } from './session-lifecycle-backend.js';

const { runtime } = runtimePerTest();

/** A primary that fails every run (once broken) and a fallback whose session waits at a closed gate. */
async function failingOverToSlowFallback() {
  const primary = holdingBackend('primary');
  const fallback = holdingBackend('fallback', { priority: 900 });
  const weft = runtime([primary.plugin, fallback.plugin]);
  const model = await weft.load(fixture('tiny'), { backend: 'primary', failover: { backends: ['fallback'], breaker: { failureThreshold: 1 } } });
  primary.broken.on = true;
  fallback.creations.close();
  return { primary, fallback, model };
}

describe('a request stopped while a backend session opens', () => {
  it('an aborted stream failing over ends with abort before the session opens, and sends it no pass', async () => {
    const { primary, fallback, model } = await failingOverToSlowFallback();
    const controller = new AbortController();
    const ended = collect(model.generate({ prompt: 'Once upon a time', maxTokens: 8, signal: controller.signal }));
    await fallback.creations.reached();
    controller.abort();
    const all = await ended;
    expect(all.at(-1)).toMatchObject({ type: 'done', finishReason: 'abort' });
    expect(all.some((e) => e.type === 'failover')).toBe(false);
    await until(() => model.activeRuns === 0);
    expect(model.activeRuns).toBe(0);
    expect(fallback.creations.arrived).toBe(1);
    // The session opens later: it is kept for the next request, with no pass sent from this one.
    fallback.creations.open();
    await until(() => fallback.events.includes('opened'));
    expect(fallback.signals).toEqual([]);
    primary.broken.on = false;
    expect(leaked(primary.live)).toEqual([]);
    expect(leaked(fallback.live)).toEqual([]);
  });

  it('a new stream and an evaluation waiting for that session (the primary’s breaker open) end at their abort', async () => {
    const { fallback, model } = await failingOverToSlowFallback();
    // The first stream fails over and waits for the fallback's session; it opens the primary's breaker.
    const first = collect(model.generate({ prompt: 'Once upon a time', maxTokens: 8 }));
    await fallback.creations.reached();
    const controller = new AbortController();
    const stream = collect(model.generate({ prompt: 'Once', maxTokens: 8, signal: controller.signal }));
    const evaluation = model.evaluate({ inputIds: [1, 5, 6, 7, 8], signal: controller.signal }).catch((e: unknown) => e);
    await until(() => model.activeRuns === 3);
    expect(model.activeRuns).toBe(3);
    controller.abort(new Error('client left'));
    expect((await stream).at(-1)).toMatchObject({ type: 'done', finishReason: 'abort' });
    expect(((await evaluation) as Error).message).toBe('client left');
    await until(() => model.activeRuns === 1);
    expect(model.activeRuns).toBe(1);
    expect(fallback.signals).toEqual([]);
    // The first stream goes on once the session opens, and ends as usual.
    fallback.creations.open();
    const rest = await first;
    expect(rest.filter((e) => e.type === 'failover')).toHaveLength(1);
    expect(rest.at(-1)).toMatchObject({ type: 'done', finishReason: 'length' });
    expect(fallback.signals).toHaveLength(8);
    await until(() => model.activeRuns === 0);
    expect(leaked(fallback.live)).toEqual([]);
  });

  it('disposing the model while a stream waits for the session ends it with ModelDisposedError, and the late session is released', async () => {
    const { fallback, model } = await failingOverToSlowFallback();
    const ended = collect(model.generate({ prompt: 'Once upon a time', maxTokens: 8 })).catch((e: unknown) => e);
    await fallback.creations.reached();
    const disposing = model.dispose();
    expect(ModelDisposedError.isInstance(await ended)).toBe(true);
    fallback.creations.open();
    await disposing;
    await until(() => fallback.events.includes('released'));
    expect(fallback.events).toEqual(['opened', 'released']);
    expect(fallback.signals).toEqual([]);
  });
});
