import { afterAll, describe, expect, it } from 'vitest';
import { definePlugin, FullPrecisionKvStore, InvalidOptionsError, PluginError, type GenerationHooks, type WeftModel } from '../src/index.js';
import { collect, fixture, runtime, wrappedNodeBackend } from './helpers.js';

/** A runtime whose only plugin adds `hooks`; generation on the tiny fixture. */
async function withHooks(name: string, hooks: GenerationHooks): Promise<WeftModel> {
  const weft = runtime([definePlugin({ name, version: '1.0.0', apiVersion: '^0.1.0', setup: (ctx) => ctx.addHooks(hooks) })]);
  runtimes.push(weft);
  return weft.load(fixture('tiny'));
}
const runtimes: ReturnType<typeof runtime>[] = [];
afterAll(() => Promise.all(runtimes.map((w) => w.dispose())));

async function failure(model: WeftModel, request: Parameters<WeftModel['generate']>[0]): Promise<PluginError> {
  const error = await collect(model.generate(request)).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(PluginError.isInstance(error)).toBe(true);
  return error as PluginError;
}

describe('failures inside plugin stages', () => {
  it('refuses async and generator hooks at setup, naming the stage', async () => {
    const hooks: [string, unknown][] = [
      ['an async function', async () => {}],
      ['a generator function', function* () {}],
      ['an async generator function', async function* () {}],
    ];
    for (const [what, hook] of hooks) {
      const weft = runtime([definePlugin({ name: 'async-hook', version: '1.0.0', apiVersion: '^0.1.0', setup: (ctx) => ctx.addHooks({ afterToken: hook as NonNullable<GenerationHooks['afterToken']> }) })]);
      runtimes.push(weft);
      const error = await weft.load(fixture('tiny')).catch((e: unknown) => e);
      expect(PluginError.isInstance(error)).toBe(true);
      expect((error as PluginError).plugin).toBe('async-hook');
      expect((error as Error).message).toContain(`"afterToken" is ${what}, but stages are synchronous`);
    }
  });

  it('accepts a plain hook whose toStringTag a wrapper changed, and names a hook that cannot be inspected', async () => {
    let calls = 0;
    const traced = Object.assign(() => void calls++, { [Symbol.toStringTag]: 'traced' });
    const model = await withHooks('traced-hook', { afterToken: traced });
    await collect(model.generate({ prompt: 'x', maxTokens: 3, ignoreEos: true }));
    expect(calls).toBe(3);

    const hostile = new Proxy(() => {}, {
      get: (target, key) => {
        if (key === Symbol.toStringTag) throw new Error('no peeking');
        return Reflect.get(target, key);
      },
    });
    const weft = runtime([definePlugin({ name: 'proxy-hook', version: '1.0.0', apiVersion: '^0.1.0', setup: (ctx) => ctx.addHooks({ afterToken: hostile }) })]);
    runtimes.push(weft);
    const error = await weft.load(fixture('tiny')).catch((e: unknown) => e);
    expect(PluginError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain('"afterToken" could not be read: no peeking');
  });

  it('fails the stream of a hook that returns a rejecting promise, without an unhandled rejection', async () => {
    const model = await withHooks('async-hook', {
      // A plain function (not `async`, which addHooks refuses) that still returns a promise.
      afterToken: (({ step }: { step: number }) => (step === 1 ? Promise.reject(new Error('boom')) : undefined)) as unknown as NonNullable<GenerationHooks['afterToken']>,
    });
    const error = await failure(model, { prompt: 'x', maxTokens: 5 });
    expect(error.plugin).toBe('async-hook');
    expect(error.stage).toBe('afterToken');
    expect(error.message).toMatch(/returned a promise/);
    // Give the rejected promise a turn: vitest fails the file on an unhandled rejection.
    await new Promise((resolve) => setTimeout(resolve, 10));
  });

  it('fails the stream of an analyzer that returns a promise', async () => {
    const model = await withHooks('unused', {});
    const error = await failure(model, {
      prompt: 'x',
      maxTokens: 5,
      analyzers: [{ name: 'slow', observe: () => Promise.reject(new Error('later')) }],
    });
    expect(error.plugin).toBe('request');
    expect(error.stage).toBe('analyzer "slow"');
    await new Promise((resolve) => setTimeout(resolve, 10));
  });

  it('fails the stream of a processor or processLogits hook that returns new logits instead of editing its row', async () => {
    const model = await withHooks('returns-logits', { processLogits: ((l: Float32Array) => l.map((x) => x - 1)) as unknown as NonNullable<GenerationHooks['processLogits']> });
    const hook = await failure(model, { prompt: 'x', maxTokens: 3, temperature: 0.7, seed: 1 });
    expect(hook).toMatchObject({ plugin: 'returns-logits', stage: 'processLogits' });
    expect(hook.message).toMatch(/returned a typed array other than the logits it was given, which is not used; edit the given logits in place/);
    const plain = await withHooks('unused', {});
    const processor = await failure(plain, { prompt: 'x', maxTokens: 3, processors: [{ name: 'copy', process: ((l: Float32Array) => Array.from(l)) as never }] });
    expect(processor).toMatchObject({ plugin: 'request', stage: 'logits processor "copy"' });
    expect(processor.message).toMatch(/returned an array other than/);
  });

  it('accepts a processor that returns its own row or what an expression body gives', async () => {
    const model = await withHooks('unused', {});
    const banned = await collect(
      model.generate({
        prompt: 'x',
        maxTokens: 4,
        processors: [
          { name: 'fill', process: ((l: Float32Array) => l.fill(-Infinity, 0, 300)) as never },
          { name: 'assign', process: ((l: Float32Array) => (l[400] = -Infinity)) as never },
          { name: 'view', process: ((l: Float32Array) => l.subarray(300, 310).fill(-Infinity)) as never },
          { name: 'map', process: ((l: Float32Array) => [410, 411].map((id) => (l[id] = -Infinity))) as never },
        ],
      }),
    );
    const ids = banned.flatMap((e) => (e.type === 'token' ? [e.id] : []));
    expect(ids).toHaveLength(4);
    for (const id of ids) expect(id >= 310 && ![400, 410, 411].includes(id)).toBe(true);
  });

  it('describes values that are not errors, even when reading them throws', async () => {
    const hostile = new Proxy({}, { get: () => { throw new Error('trap'); }, has: () => { throw new Error('trap'); }, getPrototypeOf: () => { throw new Error('trap'); } });
    for (const thrown of [Object.create(null), hostile, { toString: () => { throw new Error('no'); } }, 42]) {
      const model = await withHooks('odd-throws', { afterToken: () => { throw thrown; } });
      const error = await failure(model, { prompt: 'x', maxTokens: 2 });
      expect(error.plugin).toBe('odd-throws');
      expect(error.message.length).toBeLessThan(500);
    }
  });

  it('does not let a plugin blame another plugin', async () => {
    const model = await withHooks('evil', {
      afterToken: () => {
        throw new PluginError('@weft/backend-node', 'setup', 'not me');
      },
    });
    const error = await failure(model, { prompt: 'x', maxTokens: 2 });
    expect(error.plugin).toBe('evil');
    expect(error.message).toMatch(/Plugin "evil" failed in afterToken: .*not me/);
  });

  it('blames a beforeForward hook that removes or replaces a feed, and does not fail over for it', async () => {
    let hostile: 'remove' | 'replace' | undefined;
    const badFeeds = definePlugin({
      name: 'bad-feeds',
      version: '1.0.0',
      apiVersion: '^0.1.0',
      setup: (ctx) =>
        ctx.addHooks({
          beforeForward({ feeds }) {
            if (hostile === 'remove') delete feeds['input_ids'];
            if (hostile === 'replace') feeds['attention_mask'] = [1, 1] as never;
          },
        }),
    });
    const weft = runtime([wrappedNodeBackend({ name: 'second', priority: 10 }), badFeeds]);
    runtimes.push(weft);
    const model = await weft.load(fixture('tiny'), { failover: true });
    const loadedOn = model.backend;
    hostile = 'remove';
    const removed = await failure(model, { prompt: 'a', maxTokens: 8 });
    expect(removed).toMatchObject({ plugin: 'bad-feeds', stage: 'beforeForward' });
    expect(removed.message).toMatch(/removed the feed "input_ids"/);
    hostile = 'replace';
    const replaced = await failure(model, { prompt: 'a', maxTokens: 8 });
    expect(replaced.message).toMatch(/set the feed "attention_mask" to an array, which is not a tensor/);
    // No backend was blamed: a clean request still runs on the first one.
    hostile = undefined;
    const events = await collect(model.generate({ prompt: 'b', maxTokens: 8 }));
    expect(events.some((e) => e.type === 'failover')).toBe(false);
    expect(model.backend).toBe(loadedOn);
  });

  /** A full-precision store with one member replaced by a failing one. */
  const brokenStore = (member: 'bytes' | 'length' | 'slotPositions' | 'dispose' | 'materialize', also?: 'dispose') => {
    const store = new FullPrecisionKvStore();
    const fail = (what: string) => () => {
      throw new Error(`${what} failed`);
    };
    if (member === 'length') Object.defineProperty(store, 'length', { get: fail('length') });
    else (store as unknown as Record<string, unknown>)[member] = fail(member);
    if (also) (store as unknown as Record<string, unknown>)[also] = fail(also);
    return store;
  };

  it.each([
    ['bytes', 'kv bytes'],
    ['length', 'kv length'],
    ['dispose', 'kv dispose'],
  ] as const)('names the request as the owner when its store\'s %s throws', async (member, stage) => {
    const model = await withHooks('unused-2', {});
    const error = await failure(model, { prompt: 'x', maxTokens: 3, kv: brokenStore(member) });
    expect(error).toMatchObject({ plugin: 'request', stage });
    expect(error.message).toMatch(new RegExp(`${member} failed`));
  });

  it('names the store when slotPositions throws under a router, and keeps the first error when dispose also fails', async () => {
    const model = await withHooks('unused-3', {});
    const router = { name: 'keep-all', select: () => undefined };
    const slots = await failure(model, { prompt: 'x', maxTokens: 3, kv: brokenStore('slotPositions'), router });
    expect(slots).toMatchObject({ plugin: 'request', stage: 'kv slotPositions' });
    const first = await failure(model, { prompt: 'x', maxTokens: 3, kv: brokenStore('materialize', 'dispose') });
    expect(first).toMatchObject({ plugin: 'request', stage: 'kv materialize' });
    const evaluation = await model.evaluate({ inputIds: [1, 40, 50, 60], kv: brokenStore('materialize', 'dispose') }).catch((e: unknown) => e);
    expect(evaluation).toMatchObject({ plugin: 'request', stage: 'kv materialize' });
  });

  it('names the analyzer whose importance() throws', async () => {
    const model = await withHooks('unused-4', {});
    const error = await failure(model, {
      prompt: 'x',
      maxTokens: 3,
      analyzers: [{ name: 'imp', observe: () => 1, importance: () => { throw new Error('no scores'); } }],
    });
    expect(error).toMatchObject({ plugin: 'request', stage: 'analyzer "imp" importance' });
  });

  it('names the analyzer whose importance getter throws, and the router whose observe getter throws', async () => {
    const model = await withHooks('unused-5', {});
    const analyzer = {
      name: 'imp-getter',
      observe: () => 1,
      get importance(): () => Float32Array {
        throw new Error('no scores yet');
      },
    };
    const error = await failure(model, { prompt: 'x', maxTokens: 3, analyzers: [analyzer] });
    expect(error).toMatchObject({ plugin: 'request', stage: 'analyzer "imp-getter" importance' });
    expect(error.message).toContain('no scores yet');

    const router = {
      name: 'observe-getter',
      select: () => undefined,
      get observe(): () => void {
        throw new Error('not observing');
      },
    };
    const generation = await failure(model, { prompt: 'x', maxTokens: 3, router });
    expect(generation).toMatchObject({ plugin: 'request', stage: 'router "observe-getter" observe' });
    const evaluation = await model.evaluate({ inputIds: [1, 40, 50, 60], router }).catch((e: unknown) => e);
    expect(PluginError.isInstance(evaluation)).toBe(true);
    expect(evaluation).toMatchObject({ plugin: 'request', stage: 'router "observe-getter" observe' });
  });

  it('skips an analyzer whose importance is null, as before, and names one whose importance result cannot be inspected', async () => {
    const model = await withHooks('unused-7', {});
    // A falsy importance (a plugin class's \`importance = null\`) means none: it was skipped before the getter check.
    const none = { name: 'no-importance', observe: () => 1, importance: null };
    const events = await collect(model.generate({ prompt: 'x', maxTokens: 3, ignoreEos: true, analyzers: [none as never] }));
    expect(events.filter((e) => e.type === 'analysis')).toHaveLength(3);
    // A result whose \`then\` getter throws: the analyzer's fault, named, not the raw error.
    const hostile = {
      name: 'hostile-importance',
      observe: () => 1,
      importance: () =>
        ({
          get then(): unknown {
            throw new Error('no then here');
          },
        }) as unknown as Float32Array,
    };
    const error = await failure(model, { prompt: 'x', maxTokens: 3, analyzers: [hostile] });
    expect(error).toMatchObject({ plugin: 'request', stage: 'analyzer "hostile-importance" importance' });
    expect(error.message).toContain('no then here');
  });

  it('runs a router whose observe is null as one without observe, as before', async () => {
    const model = await withHooks('unused-8', {});
    const router = { name: 'no-observe', select: () => undefined, observe: null };
    const events = await collect(model.generate({ prompt: 'x', maxTokens: 3, ignoreEos: true, router: router as never }));
    expect(events.filter((e) => e.type === 'token')).toHaveLength(3);
    const result = await model.evaluate({ inputIds: [1, 40, 50, 60], router: router as never });
    expect(result.tokens).toBe(3);
  });

  it('reads a router\'s positions once, when the run resolves it: a getter that would answer otherwise later is never asked again', async () => {
    const model = await withHooks('unused-6', {});
    let reads = 0;
    /** A router whose positions getter answers the request's check (the first read), then throws. */
    const router = () => ({
      name: 'positions-getter',
      select: () => undefined,
      get positions(): 'absolute' {
        if (reads++ === 0) return 'absolute';
        throw new Error('asked twice');
      },
    });
    const events = await collect(model.generate({ prompt: 'x', maxTokens: 3, ignoreEos: true, router: router() }));
    expect(events.filter((e) => e.type === 'token')).toHaveLength(3);
    expect(reads).toBe(1);
    reads = 0;
    const result = await model.evaluate({ inputIds: [1, 40, 50, 60], router: router() });
    expect(result.tokens).toBe(3);
    expect(reads).toBe(1);
  });

  it("blames the plugin whose router's positions cannot be read or is unknown, and the request for its own router", async () => {
    const routerPlugin = (name: string, router: object) =>
      definePlugin({ name, version: '1.0.0', apiVersion: '^0.1.0', setup: (ctx) => ctx.register('attention-router', { name: `${name}-router`, create: () => router as never }) });
    const throwing = { name: 'r', select: () => undefined, get positions(): 'absolute' { throw new Error('no positions'); } };
    const weft = runtime([routerPlugin('router-getter', throwing), routerPlugin('router-sideways', { name: 'r', select: () => undefined, positions: 'sideways' })]);
    runtimes.push(weft);
    const model = await weft.load(fixture('tiny'));
    const getter = await failure(model, { prompt: 'x', maxTokens: 2, router: 'router-getter-router' });
    expect(getter).toMatchObject({ plugin: 'router-getter', stage: 'router "r"' });
    expect(getter.message).toContain('no positions');
    const sideways = await failure(model, { prompt: 'x', maxTokens: 2, router: 'router-sideways-router' });
    expect(sideways).toMatchObject({ plugin: 'router-sideways', stage: 'router "r"' });
    expect(sideways.message).toContain(`it has an unknown positions mode "sideways"`);
    // A request's own router is the request's mistake.
    const own = await collect(model.generate({ prompt: 'x', maxTokens: 2, router: throwing })).catch((e: unknown) => e);
    expect(InvalidOptionsError.isInstance(own)).toBe(true);
    expect(own).toMatchObject({ option: 'router' });
  });
});
