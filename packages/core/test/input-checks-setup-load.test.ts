import { describe, expect, it } from 'vitest';
import { definePlugin, PluginError, type Weft, type WeftPlugin } from '../src/index.js';
import { fixture, runtime } from './helpers.js';

/**
 * A plugin whose `setup` awaits `weft.load()` (or `weft.ready()`) of its own runtime waited for
 * itself: a load waits for every setup to finish. It now fails at once with a `PluginError`
 * naming the plugin and saying what to do instead, rather than after the 30 s setup timeout. The
 * runtimes here keep the default timeout, so the old behaviour would fail the test by its own timeout.
 */

function plugin(name: string, setup: () => unknown): WeftPlugin {
  return definePlugin({ name, version: '1.0.0', apiVersion: '^0.1.0', setup: setup as () => Promise<void> });
}

describe('a setup that awaits a load of its own runtime', () => {
  it('fails at once, from plugins and from use()', async () => {
    let weft: Weft | undefined;
    const loader = plugin('loader', async () => {
      await weft!.load(fixture('tiny'));
    });
    weft = runtime([loader]);
    try {
      const error = await weft.ready().then(() => 'ready', (e: unknown) => e);
      expect(PluginError.isInstance(error), String(error)).toBe(true);
      expect(error).toMatchObject({ plugin: 'loader', stage: 'setup' });
      expect((error as Error).message).toMatch(/setup called weft\.load\(\) of its own runtime.*Load the model lazily/);
    } finally {
      await weft.dispose();
    }

    const other = runtime();
    try {
      const late = plugin('late-loader', () => other.load(fixture('tiny')).then(() => undefined));
      const error = await other.use(late).then(() => 'installed', (e: unknown) => e);
      expect(error).toMatchObject({ plugin: 'late-loader', stage: 'setup' });
      // The runtime still loads models for the application.
      const model = await other.load(fixture('tiny'));
      expect(model.backend).toBe('node');
    } finally {
      await other.dispose();
    }
  }, 10_000);

  it('weft.ready() awaited inside setup fails at once too', async () => {
    const weft = runtime();
    try {
      const error = await weft.use(plugin('waiter', () => weft.ready())).then(() => 'installed', (e: unknown) => e);
      expect(error).toMatchObject({ plugin: 'waiter', stage: 'setup' });
      expect((error as Error).message).toMatch(/setup called weft\.ready\(\)/);
    } finally {
      await weft.dispose();
    }
  }, 10_000);

  it('a setup may load with another runtime, and the application may load while setups run', async () => {
    const models = runtime();
    const weft = runtime();
    try {
      let loaded = '';
      await weft.use(plugin('uses-another-runtime', async () => {
        loaded = (await models.load(fixture('tiny'))).backend;
      }));
      expect(loaded).toBe('node');

      // A setup still running (not calling load) while the application loads: the load waits for it.
      let finish: () => void = () => {};
      let started: () => void = () => {};
      const running = new Promise<void>((resolve) => (started = resolve));
      const slow = weft.use(plugin('slow', () => {
        started();
        return new Promise<void>((resolve) => (finish = resolve));
      }));
      await running;
      const load = weft.load(fixture('tiny'));
      finish();
      await slow;
      expect((await load).backend).toBe('node');
    } finally {
      await Promise.all([weft.dispose(), models.dispose()]);
    }
  }, 20_000);

  it('a setup that times out while a load waits for it says why it may hang', async () => {
    const weft = runtime([], { setupTimeoutMs: 50 });
    try {
      const hung = weft.use(plugin('hung', () => new Promise(() => {})));
      const load = weft.load(fixture('tiny')).then(() => 'loaded', (e: unknown) => e);
      const error = await hung.then(() => 'installed', (e: unknown) => e);
      expect((error as Error).message).toMatch(/did not finish within 50 ms; a weft\.load\(\) or weft\.ready\(\) of this runtime was waiting for it/);
      expect(await load).toBe('loaded');
    } finally {
      await weft.dispose();
    }
  }, 10_000);
});
