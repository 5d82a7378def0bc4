/**
 * Every check of a request runs before its `start` event: an error before `start` is the
 * request's, so a server can hold its response (headers, status) until `start` arrives and answer
 * a bad request with a client error. After `start`, only the run itself fails.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ContextOverflowError, InvalidOptionsError, PluginError, definePlugin, type GenerationEvent, type GenerationRequest } from '../src/index.js';
import { fixture, runtime } from './helpers.js';

const failingBegin = definePlugin({
  name: 'store-that-cannot-begin',
  version: '1.0.0',
  apiVersion: '^0.1.0',
  setup(ctx) {
    ctx.register('kv-cache', {
      name: 'cannot-begin',
      create: () => ({ specificationVersion: 'v1', length: 0, begin() { throw new Error('no room'); }, append() {}, materialize: () => ({}), bytes: () => 0, dispose() {} }) as never,
    });
  },
});
const weft = runtime([failingBegin]);
afterAll(() => weft.dispose());

/** The events a run emitted before it failed, and the error. */
function eventsBeforeError(request: GenerationRequest, model: Awaited<ReturnType<typeof weft.load>>): Promise<{ events: GenerationEvent[]; error: unknown }> {
  const events: GenerationEvent[] = [];
  return new Promise((resolve) => {
    model.generate(request).subscribe({
      next: (e) => events.push(e),
      error: (error: unknown) => resolve({ events, error }),
      complete: () => resolve({ events, error: undefined }),
    });
  });
}

describe('request errors come before start', () => {
  it.each<[string, GenerationRequest, (e: unknown) => boolean]>([
    ['no prompt', {}, InvalidOptionsError.isInstance],
    ['an unknown field', { prompt: 'Hi', maxToken: 3 } as never, InvalidOptionsError.isInstance],
    ['an id outside the vocabulary', { inputIds: [1, 100_000] }, InvalidOptionsError.isInstance],
    ['a prompt longer than the context', { inputIds: new Array(5000).fill(1) }, ContextOverflowError.isInstance],
    ['a bad sampling option', { prompt: 'Hi', temperature: -1 }, InvalidOptionsError.isInstance],
    ['a bad stop string', { prompt: 'Hi', stop: [''] }, InvalidOptionsError.isInstance],
    ['an unknown KV store', { prompt: 'Hi', kv: 'no-such-store' }, (e) => e instanceof Error && /no-such-store/.test(e.message)],
    ['a KV store option its store refuses', { prompt: 'Hi', kv: { name: 'fp32', options: { bits: 3 } } }, InvalidOptionsError.isInstance],
    ['an unknown router', { prompt: 'Hi', router: 'no-such-router' }, (e) => e instanceof Error && /no-such-router/.test(e.message)],
    ['a store whose begin fails', { prompt: 'Hi', kv: 'cannot-begin' }, PluginError.isInstance],
  ])('%s: the error, and no event before it', async (_what, request, expected) => {
    const model = await weft.load(fixture('tiny'));
    const { events, error } = await eventsBeforeError(request, model);
    expect(error, 'the run fails').toBeDefined();
    expect(expected(error), String(error)).toBe(true);
    expect(events).toEqual([]);
    await model.dispose();
  });

  it('a valid request starts, and a plugin failing in a later stage fails the run after start', async () => {
    const hooks = definePlugin({
      name: 'fails-after-forward',
      version: '1.0.0',
      apiVersion: '^0.1.0',
      setup(ctx) {
        ctx.addHooks({ afterForward() { throw new Error('late'); } });
      },
    });
    const w = runtime([hooks]);
    const model = await w.load(fixture('tiny'));
    const { events, error } = await eventsBeforeError({ prompt: 'Hi', maxTokens: 3 }, model);
    expect(events.map((e) => e.type)).toEqual(['start']);
    expect(PluginError.isInstance(error)).toBe(true);
    await w.dispose();
  });
});
