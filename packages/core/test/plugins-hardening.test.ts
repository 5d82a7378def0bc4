import { describe, expect, it } from 'vitest';
import {
  createWeft,
  DefaultAdapterRegistry,
  definePlugin,
  InvalidOptionsError,
  PluginError,
  PluginHost,
  WEFT_API_VERSION,
  type AdapterKind,
  type LogitsProcessor,
  type OwnedHooks,
  type PluginContext,
  type WeftPlugin,
} from '../src/index.js';

const P = (name: string, setup: (ctx: PluginContext) => void | Promise<void>) => definePlugin({ name, version: '1.0.0', apiVersion: '^0.1.0', setup });
const proc = (name: string) => ({ name, create: (): LogitsProcessor => ({ name, process() {} }) });
const base = { name: 'hostile', version: '1.0.0', apiVersion: '^0.1.0', setup() {} };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function host() {
  const registry = new DefaultAdapterRegistry();
  const hooks: OwnedHooks[] = [];
  return { registry, hooks, host: new PluginHost(registry, hooks, WEFT_API_VERSION) };
}

function caught(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('installation is all or nothing', () => {
  it('keeps nothing of a plugin whose setup fails, so the fixed plugin installs afterwards', async () => {
    const w = createWeft();
    const half = P('half', (ctx) => {
      ctx.register('logits-processor', proc('first'));
      ctx.register('kv-cache', { name: 'fp32', create: () => ({}) as never });
    });
    const error = await w.use(half).catch((e: unknown) => e);
    expect(PluginError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/"fp32" is already registered by @weft\/core/);
    expect(w.registry.list('logits-processor')).toHaveLength(0);
    expect(w.registry.resolve('kv-cache', { name: 'fp32' }).owner).toBe('@weft/core');
    await w.use(P('half', (ctx) => ctx.register('logits-processor', proc('first'))));
    expect(w.registry.list('logits-processor').map((e) => [e.name, e.owner])).toEqual([['first', 'half']]);
  });

  it('rolls back when a plugin registers the same name twice', async () => {
    const w = createWeft();
    const twice = P('twice', (ctx) => {
      ctx.register('logits-processor', proc('dup'));
      ctx.register('logits-processor', proc('other'));
      ctx.register('logits-processor', proc('dup'));
    });
    await expect(w.use(twice)).rejects.toThrow(/"twice" failed in setup: .*"dup" is already registered by twice/);
    expect(w.registry.list('logits-processor')).toHaveLength(0);
  });

  it('keeps neither hooks nor declared kinds of a failed setup', async () => {
    const { registry, hooks, host: h } = host();
    const failing = P('failing', (ctx) => {
      ctx.declareKind('failing-kind');
      ctx.addHooks({ afterToken() {} });
      throw new Error('late failure');
    });
    await expect(h.install(failing)).rejects.toThrow('Plugin "failing" failed in setup: late failure');
    expect(hooks).toHaveLength(0);
    expect(() => registry.register('failing-kind' as AdapterKind, proc('x') as never)).toThrow(/Unknown adapter kind/);
    expect(registry.kinds?.()).not.toContain('failing-kind');
    expect(h.list()).toEqual([]);
  });

  it('rejects registrations made after a timed-out setup gave up', async () => {
    const w = createWeft({ setupTimeoutMs: 20 });
    let late: unknown;
    const slow = P('slow', async (ctx) => {
      await sleep(60);
      late = caught(() => ctx.register('logits-processor', proc('late')));
    });
    await expect(w.use(slow)).rejects.toThrow(/did not finish within 20 ms/);
    await sleep(80);
    expect(PluginError.isInstance(late)).toBe(true);
    expect((late as PluginError).stage).toBe('register');
    expect(w.registry.list('logits-processor')).toHaveLength(0);
  });

  it('commits hooks bound to their object only after setup succeeded', async () => {
    const { hooks, host: h } = host();
    class Counter {
      count = 0;
      afterToken() {
        this.count++;
      }
    }
    const counter = new Counter();
    await h.install(P('counter', (ctx) => ctx.addHooks(counter)));
    expect(hooks.map((o) => o.owner)).toEqual(['counter']);
    hooks[0]!.hooks.afterToken!({ row: 0, step: 0, id: 1, text: 'a' });
    expect(counter.count).toBe(1);
    await expect(h.install(P('bad-hooks', (ctx) => ctx.addHooks({ afterToken: 'soon' } as never)))).rejects.toThrow(/"bad-hooks" failed in addHooks: "afterToken" must be a function/);
  });
});

/** Manifests that must give a PluginError, never a raw error, from definePlugin and from use(). */
function hostileManifests(): [string, unknown][] {
  const { proxy: revoked, revoke } = Proxy.revocable({}, {});
  revoke();
  const circular: Record<string, unknown> = {};
  circular['self'] = circular;
  const throwing = (field: string) => Object.defineProperty({ ...base }, field, { get() { throw new Error(`${field} getter`); }, enumerable: true });
  return [
    ['a name getter that throws', throwing('name')],
    ['a version getter that throws', throwing('version')],
    ['an apiVersion getter that throws', throwing('apiVersion')],
    ['a setup getter that throws', throwing('setup')],
    ['a proxy whose traps throw', new Proxy({}, { get() { throw new Error('trap'); }, ownKeys() { throw new Error('trap'); }, getOwnPropertyDescriptor() { throw new Error('trap'); }, has() { throw new Error('trap'); } })],
    ['a revoked proxy', revoked],
    ['a BigInt name', { ...base, name: 10n }],
    ['a circular version object', { ...base, version: circular }],
    ['a name whose toJSON throws', { ...base, name: { toJSON() { throw new Error('toJSON'); } } }],
    ['a symbol apiVersion', { ...base, apiVersion: Symbol('v') }],
  ];
}

describe('hostile manifests', () => {
  it.each(hostileManifests())('definePlugin rejects %s with a PluginError', (_, manifest) => {
    const error = caught(() => definePlugin(manifest as never));
    expect(PluginError.isInstance(error)).toBe(true);
    expect((error as PluginError).stage).toBe('manifest');
  });

  it.each(hostileManifests())('use() rejects %s with a PluginError', async (_, manifest) => {
    const error = await createWeft().use(manifest as WeftPlugin).catch((e: unknown) => e);
    expect(PluginError.isInstance(error)).toBe(true);
    expect((error as PluginError).stage).toBe('manifest');
  });

  const weirdThrows: [string, () => unknown][] = [
    ['a null-prototype object', () => Object.create(null)],
    ['an object whose toString throws', () => ({ toString() { throw new Error('no'); } })],
    ['an Error whose message getter throws', () => Object.defineProperty(new Error('x'), 'message', { get() { throw new Error('getter'); } })],
    ['a proxy that throws on every trap', () => new Proxy({}, { get() { throw new Error('t'); }, has() { throw new Error('t'); }, getPrototypeOf() { throw new Error('t'); } })],
  ];
  it.each(weirdThrows)('wraps a setup that throws %s in a PluginError', async (_, make) => {
    const value = make();
    const error = await createWeft().use(P('thrower', () => { throw value; })).catch((e: unknown) => e);
    expect(PluginError.isInstance(error)).toBe(true);
    expect((error as PluginError).stage).toBe('setup');
    expect((error as PluginError).plugin).toBe('thrower');
    expect((error as Error).cause).toBe(value);
  });

  it('reads the name once: a changing name getter cannot install one object twice or record an invalid name', async () => {
    const { host: h } = host();
    let reads = 0;
    const shifty = { ...base, get name() { return reads++ < 3 ? 'shifty' : `../evil-${reads}`; } };
    await h.install(shifty as unknown as WeftPlugin);
    expect(h.list()).toEqual([{ name: 'shifty', version: '1.0.0' }]);
    let n = 0;
    const fresh = { ...base, get name() { return `fresh-${++n}`; } };
    await h.install(fresh as unknown as WeftPlugin);
    await expect(h.install(fresh as unknown as WeftPlugin)).rejects.toThrow(/already installed/);
    expect(h.list().map((p) => p.name)).toEqual(['shifty', 'fresh-1']);
  });

  it('keeps messages short for huge names and ranges, and does not run semver on them', async () => {
    const hugeName = { ...base, name: 'x'.repeat(5_000_000) };
    const hugeRange = { ...base, apiVersion: Array.from({ length: 1_000_000 }, (_, i) => `${i + 1}.0.0`).join(' || ') };
    for (const manifest of [hugeName, hugeRange]) {
      const started = performance.now();
      const error = await createWeft().use(manifest as unknown as WeftPlugin).catch((e: unknown) => e);
      expect(performance.now() - started).toBeLessThan(500);
      expect(PluginError.isInstance(error)).toBe(true);
      expect((error as Error).message.length).toBeLessThan(1000);
    }
    const error = caught(() => definePlugin(hugeName as never));
    expect((error as Error).message.length).toBeLessThan(1000);
  });
});

describe('apiVersion', () => {
  it.each(['', '   ', '*', 'x', '>=0', '>=0.1.0', '^0.1.0 || >=1.0.0', '^0.1.0 || >=150.0.0', '>0.1.0', '0.1.0 || x'])('rejects %j', (apiVersion) => {
    const error = caught(() => definePlugin({ ...base, apiVersion }));
    expect(PluginError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/"apiVersion"/);
  });

  it('says a plugin must name the API majors it supports', async () => {
    const error = await createWeft().use({ ...base, apiVersion: '>=0.1.0' } as unknown as WeftPlugin).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/must name the API majors it supports, e\.g\. \^0\.1\.0/);
  });

  it.each(['^0.1.0', '~0.1.0', '0.x', '>=0.1.0 <1.0.0', '^0.1.0 || ^1.0.0', '0.1.0', '0.1.0 - 0.9.0', '<1.0.0'])('accepts %j', async (apiVersion) => {
    await createWeft().use(definePlugin({ ...base, apiVersion }));
  });
});

describe('impersonation', () => {
  it('wraps a PluginError that names another plugin', async () => {
    const forged = new PluginError('@weft/backend-node', 'setup', 'onnxruntime is broken, uninstall it');
    const error = await createWeft().use(P('evil', () => { throw forged; })).catch((e: unknown) => e);
    expect((error as PluginError).plugin).toBe('evil');
    expect((error as Error).message).toMatch(/^Plugin "evil" failed in setup: /);
    expect((error as Error).cause).toBe(forged);
  });

  it('passes through a PluginError about the plugin itself', async () => {
    const own = new PluginError('honest', 'setup', 'needs a GPU');
    await expect(createWeft().use(P('honest', () => { throw own; }))).rejects.toBe(own);
  });
});

describe('the plugin registry view', () => {
  it('cannot remove or replace what others registered', async () => {
    const w = createWeft();
    await w.use(P('vandal', (ctx) => {
      const stores = ctx.registry.list('kv-cache') as unknown as unknown[];
      caught(() => { stores.length = 0; });
      const fp32 = ctx.registry.resolve('kv-cache', { name: 'fp32' }) as { owner: string; create: unknown };
      caught(() => { fp32.owner = 'vandal'; });
      caught(() => { fp32.create = () => null; });
    }));
    const fp32 = w.registry.resolve('kv-cache', { name: 'fp32' });
    expect(fp32.owner).toBe('@weft/core');
    expect(fp32.create()).toMatchObject({ append: expect.any(Function) });
  });
});

describe('kinds', () => {
  it('rejects a typo in a kind, suggesting the right one', async () => {
    const error = await createWeft().use(P('typo', (ctx) => ctx.register('logit-processor' as AdapterKind, proc('p') as never))).catch((e: unknown) => e);
    expect(PluginError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/Unknown adapter kind "logit-processor"\. Did you mean "logits-processor"\?/);
    expect(InvalidOptionsError.isInstance((error as Error).cause)).toBe(true);
  });

  it('accepts a kind the plugin declares', async () => {
    const w = createWeft();
    await w.use(P('kind-maker', (ctx) => {
      ctx.declareKind('story-critic');
      ctx.register('story-critic' as AdapterKind, { name: 'strict', create: () => ({ judge: () => 1 }) } as never);
    }));
    expect(w.registry.list('story-critic' as AdapterKind).map((e) => [e.name, e.owner])).toEqual([['strict', 'kind-maker']]);
  });
});

describe('createWeft options', () => {
  /** What `createWeft(options)` throws (undefined when it does not). */
  const thrownBy = (options: unknown): unknown => {
    try {
      createWeft(options as never);
    } catch (e) {
      return e;
    }
    return undefined;
  };

  it.each([null, 'plugins', 42, [nodeBackendLike()]])('throws an InvalidOptionsError for %s instead of a TypeError', (options) => {
    const error = thrownBy(options);
    expect(InvalidOptionsError.isInstance(error)).toBe(true);
    expect((error as InvalidOptionsError).option).toBe('options');
    expect((error as Error).message).toMatch(/options object such as \{ plugins: \[/);
  });

  it.each([{ plugins: 'x' }, { plugins: {} }])('throws an InvalidOptionsError when plugins is not an array (%j)', (options) => {
    expect(() => createWeft(options as never)).toThrow(/plugins must be an array/);
  });

  it.each([
    [{ plugin: [P('quick', () => {})] }, 'plugin', ''],
    [{ setupTimeoutMS: 5 }, 'setupTimeoutMS', '; did you mean "setupTimeoutMs"?'],
  ] as const)('refuses a key it does not take (%j), which would leave the runtime without its plugins', (options, option, meant) => {
    const error = thrownBy(options);
    expect(InvalidOptionsError.isInstance(error)).toBe(true);
    expect((error as InvalidOptionsError).option).toBe(option);
    expect((error as Error).message).toBe(`createWeft has no option "${option}"${meant} (it takes plugins, setupTimeoutMs).`);
  });

  it('takes no options at all', async () => {
    const weft = createWeft();
    await expect(weft.ready()).resolves.toBeUndefined();
    await weft.dispose();
  });
});

/** A plugin-shaped value, to check that a bare list of plugins is not taken for the options object. */
function nodeBackendLike() {
  return P('listed', () => {});
}

describe('setupTimeoutMs', () => {
  it.each([Infinity, 3e9, Number.NaN, -1, 0, 1.5, '100'])('makes createWeft throw an InvalidOptionsError for %s, with or without plugins', (setupTimeoutMs) => {
    for (const plugins of [[], [P('quick', () => {})]]) {
      let error: unknown;
      try {
        createWeft({ setupTimeoutMs: setupTimeoutMs as number, plugins });
      } catch (e) {
        error = e;
      }
      expect(InvalidOptionsError.isInstance(error)).toBe(true);
      expect((error as InvalidOptionsError).option).toBe('setupTimeoutMs');
    }
  });

  it('accepts the largest timer delay', async () => {
    await host().host.install(P('patient', () => {}), 2 ** 31 - 1);
  });
});

describe('weft.load path', () => {
  it('must be a string; a URL object is told which string to pass', async () => {
    const weft = createWeft();
    try {
      for (const [path, message] of [
        [new URL('file:///models/story'), /not an object \(for a URL object, pass fileURLToPath\(url\) from 'node:url'\)\.$/],
        [new URL('https://example.com/story/'), /not an object \(for a URL object, pass url\.href\)\.$/],
        [undefined, /as a string, not undefined\.$/],
        [Symbol('x'), /as a string, not a symbol\.$/],
        [new Proxy({}, { getPrototypeOf: () => { throw new Error('trap'); } }), /as a string, not an object\.$/],
      ] as const) {
        const error = await weft.load(path as never).then(() => undefined, (e: unknown) => e);
        expect(InvalidOptionsError.isInstance(error), String(error)).toBe(true);
        expect((error as InvalidOptionsError).option).toBe('path');
        expect((error as Error).message).toMatch(message);
      }
    } finally {
      await weft.dispose();
    }
  });
});
