/**
 * `dispose()` and sessions that are slow to arrive or to go: it waits for a session still opening
 * (a load it stopped, a fallback's) and releases it before resolving, and it waits for a backend
 * that never settles at most `disposeTimeoutMs`, releasing what arrives afterwards.
 */
import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, ModelDisposedError, RuntimeDisposedError } from '../src/index.js';
import { collect, fixture, runtime } from './helpers.js';
import { holdingBackend, until } from './session-lifecycle-backend.js';

/** Lets pending callbacks and I/O run a few times. */
async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('weft.dispose() while a load opens its session', () => {
  it('waits for the session and releases it before resolving', async () => {
    const backend = holdingBackend('holding');
    const weft = runtime([backend.plugin]);
    backend.creations.close();
    const load = weft.load(fixture('tiny'), { backend: 'holding' }).catch((e: unknown) => e);
    await backend.creations.reached();
    const order: string[] = backend.events;
    const disposed = weft.dispose().then(() => void order.push('dispose resolved'));
    // The load stops at once, as before; dispose does not resolve while the session is out.
    expect(RuntimeDisposedError.isInstance(await load)).toBe(true);
    await turns();
    backend.creations.open();
    await disposed;
    // Before: dispose resolved first, and the session was released after it.
    expect(order).toEqual(['opened', 'released', 'dispose resolved']);
  });

  it('waits at most the load\'s disposeTimeoutMs for a session that does not come, and releases it when it does', async () => {
    const backend = holdingBackend('holding');
    const weft = runtime([backend.plugin]);
    backend.creations.close();
    const load = weft.load(fixture('tiny'), { backend: 'holding', disposeTimeoutMs: 20 }).catch((e: unknown) => e);
    await backend.creations.reached();
    await weft.dispose();
    expect(RuntimeDisposedError.isInstance(await load)).toBe(true);
    expect(backend.events).toEqual([]);
    backend.creations.open();
    await until(() => backend.events.length === 2);
    expect(backend.events).toEqual(['opened', 'released']);
  });

  it('does not wait for a session that outlived sessionTimeoutMs (hung as far as anyone can tell), yet releases it when it comes', async () => {
    const backend = holdingBackend('holding');
    const weft = runtime([backend.plugin]);
    backend.creations.close();
    // Under auto, the load moves on to the node backend once the holding one times out.
    const model = await weft.load(fixture('tiny'), { sessionTimeoutMs: 20 });
    expect(model.backend).toBe('node');
    // With the default disposeTimeoutMs (10 s), waiting for it would outlast this test's timeout.
    await weft.dispose();
    expect(backend.events).toEqual([]);
    backend.creations.open();
    await until(() => backend.events.length === 2);
    expect(backend.events).toEqual(['opened', 'released']);
  });

  it('also waits for a session a load aborted by its own signal left opening', async () => {
    const backend = holdingBackend('holding');
    const weft = runtime([backend.plugin]);
    backend.creations.close();
    const controller = new AbortController();
    const load = weft.load(fixture('tiny'), { backend: 'holding', signal: controller.signal }).catch((e: unknown) => e);
    await backend.creations.reached();
    controller.abort(new Error('not now'));
    // The caller's abort still ends the load at once, without waiting for the session.
    expect((await load) as Error).toMatchObject({ message: 'not now' });
    const order = backend.events;
    const disposed = weft.dispose().then(() => void order.push('dispose resolved'));
    await turns();
    backend.creations.open();
    await disposed;
    expect(order).toEqual(['opened', 'released', 'dispose resolved']);
  });
});

describe('model.dispose() and a backend that hangs', () => {
  it('waits for a fallback session still opening (failover) and releases it before resolving', async () => {
    const first = holdingBackend('holding');
    const second = holdingBackend('fallback', { priority: 900 });
    const weft = runtime([first.plugin, second.plugin]);
    try {
      const model = await weft.load(fixture('tiny'), { backend: 'holding', failover: { backends: ['fallback'] } });
      first.broken.on = true;
      second.creations.close();
      const stream = collect(model.generate({ prompt: 'Once upon a time', maxTokens: 20 })).then(() => undefined, (e: unknown) => e);
      await second.creations.reached();
      const order = second.events;
      const disposed = model.dispose().then(() => void order.push('dispose resolved'));
      // The stream does not wait for the fallback: it ends at once.
      expect(ModelDisposedError.isInstance(await stream)).toBe(true);
      await turns();
      second.creations.open();
      await disposed;
      // Before: dispose resolved at once, and the fallback's session was released about when it arrived.
      expect(order).toEqual(['opened', 'released', 'dispose resolved']);
      expect(first.events).toEqual(['opened', 'released']);
    } finally {
      await weft.dispose();
    }
  });

  it('resolves within disposeTimeoutMs when the backend\'s release never settles', async () => {
    const backend = holdingBackend('holding');
    const weft = runtime([backend.plugin]);
    const model = await weft.load(fixture('tiny'), { backend: 'holding', disposeTimeoutMs: 20 });
    expect(await model.text({ prompt: 'Once upon a time', maxTokens: 3 })).not.toBe('');
    backend.releases.close();
    // Before: dispose (and weft.dispose) waited for the release forever.
    await model.dispose();
    await weft.dispose();
    await expect(model.text({ prompt: 'Once' })).rejects.toThrow(ModelDisposedError);
    expect(backend.events).toEqual(['opened']);
    backend.releases.open();
    await until(() => backend.events.length === 2);
    expect(backend.events).toEqual(['opened', 'released']);
  });

  it('refuses a disposeTimeoutMs that is not a whole number of milliseconds from 1', async () => {
    const weft = runtime();
    try {
      for (const disposeTimeoutMs of [0, -1, 1.5, Number.NaN, '100']) {
        const error = await weft.load(fixture('tiny'), { disposeTimeoutMs: disposeTimeoutMs as number }).catch((e: unknown) => e);
        expect(InvalidOptionsError.isInstance(error)).toBe(true);
        expect(error).toMatchObject({ option: 'disposeTimeoutMs' });
      }
    } finally {
      await weft.dispose();
    }
  });
});
