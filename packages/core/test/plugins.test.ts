import { describe, expect, it } from 'vitest';
import { createWeft, definePlugin, PluginError, WEFT_API_VERSION, type WeftPlugin } from '../src/index.js';

const ok = { name: 'ok', version: '1.0.0', apiVersion: '^0.1.0', setup() {} };

describe('definePlugin', () => {
  it.each([
    ['a non-object', 42, /must be an object/],
    ['an empty name', { ...ok, name: '' }, /"name"/],
    ['a name with spaces', { ...ok, name: 'my plugin' }, /"name"/],
    ['a non-semver version', { ...ok, version: 'one' }, /"version"/],
    ['an invalid apiVersion range', { ...ok, apiVersion: 'latest!' }, /"apiVersion"/],
    ['a missing setup', { ...ok, setup: 'run' }, /"setup" must be a function/],
  ])('rejects %s with a PluginError', (_, manifest, message) => {
    const error = (() => {
      try {
        definePlugin(manifest as never);
      } catch (e) {
        return e;
      }
    })();
    expect(PluginError.isInstance(error)).toBe(true);
    expect((error as PluginError).stage).toBe('manifest');
    expect((error as Error).message).toMatch(message);
  });
});

describe('plugin host', () => {
  it('checks apiVersion against the host with semver', async () => {
    const weft = createWeft({ plugins: [definePlugin({ ...ok, apiVersion: '^9.0.0' })] });
    await expect(weft.ready()).rejects.toThrow(`needs Weft plugin API ^9.0.0 but this host implements ${WEFT_API_VERSION}`);
  });

  it('rejects a second plugin with the same name', async () => {
    const weft = createWeft({ plugins: [definePlugin(ok)] });
    await weft.ready();
    await expect(weft.use(definePlugin(ok))).rejects.toThrow(/already installed/);
  });

  it('validates hostile manifests that bypass definePlugin', async () => {
    const weft = createWeft();
    const hostile = { name: '../../etc', version: '1.0.0', apiVersion: '*', setup() {} } as unknown as WeftPlugin;
    await expect(weft.use(hostile)).rejects.toThrow(PluginError);
    await expect(weft.use(null as unknown as WeftPlugin)).rejects.toThrow(/must be an object/);
  });

  it('wraps setup failures in a PluginError naming the plugin and commits nothing', async () => {
    const weft = createWeft();
    const broken = definePlugin({
      ...ok,
      name: 'broken',
      setup(ctx) {
        ctx.register('analyzer', { name: 'half', create: () => ({ name: 'half', observe: () => 1 }) });
        throw new TypeError('boom');
      },
    });
    const error = await weft.use(broken).catch((e: unknown) => e);
    expect(PluginError.isInstance(error)).toBe(true);
    expect((error as PluginError).plugin).toBe('broken');
    expect((error as PluginError).message).toBe('Plugin "broken" failed in setup: boom');
    expect((error as PluginError).cause).toBeInstanceOf(TypeError);
    expect(weft.registry.list('analyzer')).toEqual([]);
  });

  it('reports a setup that never finishes instead of hanging', async () => {
    const weft = createWeft({ setupTimeoutMs: 50 });
    const hung = definePlugin({ ...ok, name: 'hung', setup: () => new Promise<void>(() => {}) });
    await expect(weft.use(hung)).rejects.toThrow(/did not finish within 50 ms/);
  });

  it('attributes registrations to their plugin and rejects name clashes between plugins', async () => {
    const make = (name: string) =>
      definePlugin({ ...ok, name, setup: (ctx) => ctx.register('analyzer', { name: 'entropy', create: () => ({ name: 'entropy', observe: () => 0 }) }) });
    const weft = createWeft({ plugins: [make('first')] });
    await weft.ready();
    expect(weft.registry.resolve('analyzer', { name: 'entropy' }).owner).toBe('first');
    await expect(weft.use(make('second'))).rejects.toThrow(/"second" failed in setup: The analyzer name "entropy" is already registered by first/);
  });

  it('makes ready() wait for plugins given to use() before it, without failing for theirs', async () => {
    const slow = (name: string, fail = false) =>
      definePlugin({
        ...ok,
        name,
        async setup(ctx) {
          await new Promise((resolve) => setTimeout(resolve, 30));
          if (fail) throw new Error('no device');
          ctx.register('analyzer', { name: `${name}-analyzer`, create: () => ({ name: `${name}-analyzer`, observe: () => 0 }) });
        },
      });
    const weft = createWeft({ plugins: [slow('initial')] });
    const later = weft.use(slow('later'));
    const failing = weft.use(slow('failing', true));
    await weft.ready();
    expect(weft.registry.list('analyzer').map((e) => e.name)).toEqual(['initial-analyzer', 'later-analyzer']);
    await later;
    // The failed use() reports through its own promise; ready() stays resolved.
    await expect(failing).rejects.toThrow(/"failing" failed in setup: no device/);
    await expect(weft.ready()).resolves.toBeUndefined();
  });

  it('keeps runtimes isolated from each other', async () => {
    const a = createWeft({ plugins: [definePlugin({ ...ok, setup: (ctx) => ctx.register('analyzer', { name: 'x', create: () => ({ name: 'x', observe: () => 0 }) }) })] });
    const b = createWeft();
    await Promise.all([a.ready(), b.ready()]);
    expect(a.registry.list('analyzer')).toHaveLength(1);
    expect(b.registry.list('analyzer')).toHaveLength(0);
  });
});
