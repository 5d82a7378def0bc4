import { afterAll, describe, expect, it } from 'vitest';
import { definePlugin, PluginError, type GenerationHooks, type WeftModel } from '../src/index.js';
import { collect, fixture, runtime } from './helpers.js';

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
  it('fails the stream of an async hook that rejects, without an unhandled rejection', async () => {
    const model = await withHooks('async-hook', {
      afterToken: (async ({ step }: { step: number }) => {
        if (step === 1) throw new Error('boom');
      }) as unknown as GenerationHooks['afterToken'],
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
});
