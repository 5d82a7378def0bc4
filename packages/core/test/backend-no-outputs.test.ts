import { afterEach, describe, expect, it } from 'vitest';
import { BackendError, SessionPool, type WeftPlugin } from '../src/index.js';
import { collect, fixture, poolAdapter, runsAs, runtime } from './helpers.js';
import { wrappedNodeBackend } from './wrapped-backend.js';

/**
 * A session whose `run` resolves with null or undefined (no outputs object) fails the run with a
 * `BackendError`. Before, the generation loop re-ran the same step for ever (`while (!outputs)`)
 * and `evaluate` threw a raw TypeError.
 */

/** onnxruntime-node under `name`, its runs resolving with `value` instead of the outputs. */
function noOutputsBackend(name: string, value: unknown, priority = 1000): WeftPlugin {
  return wrappedNodeBackend({ name, priority, runResult: { value } });
}

/** `work`'s rejection, or a marker when it neither settles within `ms`. */
async function rejection(work: Promise<unknown>, ms = 3000): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise((resolve) => (timer = setTimeout(() => resolve('still pending'), ms)));
  try {
    return await Promise.race([work.then(() => 'resolved', (e: unknown) => e), hang]);
  } finally {
    clearTimeout(timer);
  }
}

describe('a backend whose run returns no outputs', () => {
  let dispose: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await dispose?.();
    dispose = undefined;
  });

  for (const value of [null, undefined, 42]) {
    it(`fails generation with a BackendError (run resolves with ${String(value)})`, async () => {
      const weft = runtime([noOutputsBackend('empty', value)]);
      dispose = () => weft.dispose();
      const model = await weft.load(fixture('tiny'), { backend: 'empty' });
      const error = await rejection(model.text({ prompt: 'Once upon a time', maxTokens: 4 }));
      expect(BackendError.isInstance(error), String(error)).toBe(true);
      expect((error as Error).message).toMatch(/run\(\) returned no outputs/);
      expect(model.activeRuns).toBe(0);
    }, 10_000);
  }

  it('fails evaluate with a BackendError, not a TypeError', async () => {
    const weft = runtime([noOutputsBackend('empty', null)]);
    dispose = () => weft.dispose();
    const model = await weft.load(fixture('tiny'), { backend: 'empty' });
    const error = await rejection(model.evaluate({ inputIds: [1, 2, 3, 4] }));
    expect(BackendError.isInstance(error), String(error)).toBe(true);
    expect((error as Error).message).toMatch(/run\(\) returned no outputs/);
  }, 10_000);

  it('fails over to a working backend, and ends with a BackendError when every backend returns none', async () => {
    const weft = runtime([noOutputsBackend('empty', null)]);
    dispose = () => weft.dispose();
    const model = await weft.load(fixture('tiny'), { backend: 'empty', failover: true });
    const events = await collect(model.generate({ prompt: 'Once upon a time', maxTokens: 4 }));
    expect(events.find((e) => e.type === 'failover')).toMatchObject({ from: 'empty', to: 'node', reason: expect.stringContaining('no outputs') });
    expect(events.at(-1)?.type).toBe('done');

    const both = runtime([noOutputsBackend('empty', null), noOutputsBackend('void', undefined, 999)]);
    const stop = () => both.dispose();
    try {
      const bad = await both.load(fixture('tiny'), { backend: 'empty', failover: { backends: ['void'] } });
      const error = await rejection(bad.text({ prompt: 'Once upon a time', maxTokens: 4 }));
      expect(BackendError.isInstance(error), String(error)).toBe(true);
      expect((error as Error).message).toMatch(/no outputs/);
    } finally {
      await stop();
    }
  }, 20_000);

  it('SessionPool.run rejects with a BackendError and counts the failure', async () => {
    const session = runsAs(async () => null as never);
    const pool = new SessionPool({ backend: 'a', session, adapter: poolAdapter('a', session) }, [], undefined, { breaker: { failureThreshold: 1 } });
    const error = await pool.run(pool.current, {}).then(() => 'resolved', (e: unknown) => e);
    expect(BackendError.isInstance(error), String(error)).toBe(true);
    expect(pool.backends[0]?.state).not.toBe('closed');
    expect(() => pool.outputsOf(pool.current, undefined as never)).toThrow(/no outputs/);
  });
});
