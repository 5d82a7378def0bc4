import { describe, expect, it } from 'vitest';
import { definePlugin, PluginError, type Weft, type WeftPlugin } from '../src/index.js';
import { fixture, runtime } from './helpers.js';

/**
 * A plugin whose `setup` awaits `weft.use(other)` of its own runtime waited for itself: installs
 * run one after another, so the other plugin's install waited for this setup. It now fails at once
 * with a `PluginError` naming the plugin being set up and saying what to do instead, rather than
 * after the 30 s setup timeout (the runtimes keep the default, so the old code fails by the test's).
 */

function plugin(name: string, setup: () => unknown): WeftPlugin {
  return definePlugin({ name, version: '1.0.0', apiVersion: '^0.1.0', setup: setup as () => Promise<void> });
}

describe('a setup that calls use() of its own runtime', () => {
  it('fails at once, from createWeft\'s plugins and from use(); neither plugin is installed', async () => {
    let weft: Weft | undefined;
    let companionSetups = 0;
    const companion = plugin('companion', () => void companionSetups++);
    weft = runtime([plugin('installer', async () => weft!.use(companion))]);
    try {
      const error = await weft.ready().then(() => 'ready', (e: unknown) => e);
      expect(PluginError.isInstance(error), String(error)).toBe(true);
      expect(error).toMatchObject({ plugin: 'installer', stage: 'setup' });
      expect((error as Error).message).toMatch(/setup called weft\.use\(\) of its own runtime.*Have the application install both plugins/);
      expect(companionSetups).toBe(0);
      // The application can install the companion itself.
      await weft.use(companion);
      expect(companionSetups).toBe(1);
    } finally {
      await weft.dispose();
    }

    const other = runtime();
    try {
      const error = await other.use(plugin('late-installer', () => other.use(plugin('x', () => {})))).then(() => 'installed', (e: unknown) => e);
      expect(error).toMatchObject({ plugin: 'late-installer', stage: 'setup' });
      // The runtime goes on loading models.
      expect((await other.load(fixture('tiny'))).backend).toBe('node');
    } finally {
      await other.dispose();
    }
  }, 10_000);

  it('a setup may install into another runtime', async () => {
    const elsewhere = runtime();
    const weft = runtime();
    try {
      let installed = false;
      await weft.use(plugin('installs-elsewhere', () => elsewhere.use(plugin('guest', () => void (installed = true)))));
      expect(installed).toBe(true);
    } finally {
      await Promise.all([weft.dispose(), elsewhere.dispose()]);
    }
  }, 10_000);
});
