import { afterAll, describe, expect, it } from 'vitest';
import { definePlugin, PluginError, type BeforeForwardContext, type WeftModel } from '../src/index.js';
import { collect, fixture, runtime, wrappedNodeBackend } from './helpers.js';

/**
 * Feeds a `beforeForward` hook leaves malformed (another element type, rank, fixed dim, a batch
 * size the other feeds disagree with, data that does not fill the dims) fail the stream with a
 * `PluginError` naming the plugin. Before, the forward pass failed with a `BackendError`, blaming
 * the backend, counting against its circuit breaker and failing over (here, to a spare backend
 * that the hook then broke the same way).
 */

type Rewrite = (context: BeforeForwardContext) => void;

/** A runtime whose plugin `bad` runs `rewrite` before each forward pass, on a failover-ready backend pair. */
function withHook(rewrite: Rewrite) {
  const hooks = definePlugin({ name: 'bad', version: '1.0.0', apiVersion: '^0.1.0', setup: (ctx) => ctx.addHooks({ beforeForward: rewrite }) });
  return runtime([hooks, wrappedNodeBackend({ name: 'spare', priority: 10 })]);
}

const ids = (c: BeforeForwardContext) => c.feeds['input_ids']!;
const cases: [string, Rewrite, RegExp][] = [
  ['input_ids as int32', (c) => void (c.feeds['input_ids'] = c.session.createTensor('int32', Int32Array.from(ids(c).data as BigInt64Array, Number), ids(c).dims)), /"input_ids" to a tensor of type int32 .*the graph takes int64/],
  ['a past key of another rank', (c) => {
    const past = c.feeds['past_key_values.0.key']!;
    c.feeds['past_key_values.0.key'] = c.session.createTensor('float32', past.data as Float32Array, [...past.dims.slice(1)]);
  }, /"past_key_values\.0\.key" .*the graph takes 4 dims \[batch_size, 2, past_sequence_length, 8\]/],
  ['a past key with 3 heads where the graph has 2', (c) => {
    const past = c.feeds['past_key_values.0.key']!;
    const dims = [past.dims[0]!, 3, past.dims[2]!, 8];
    c.feeds['past_key_values.0.key'] = c.session.createTensor('float32', new Float32Array(dims.reduce((a, b) => a * b)), dims);
  }, /the graph takes 2 at dim 1/],
  ['a batch of two where the other feeds have one', (c) => {
    const t = ids(c);
    c.feeds['position_ids'] = c.session.createTensor('int64', new BigInt64Array(2 * t.dims[1]!), [2, t.dims[1]!]);
  }, /"position_ids" .*dim 0 \("batch_size"\) is 2 while it is 1 in "input_ids"/],
  ['data that does not fill its dims', (c) => void (c.feeds['input_ids'] = { type: 'int64', dims: [1, 5], data: new BigInt64Array(3), dispose() {} }), /its data holds 3 values where its dims hold 5/],
  ['a proxy whose reads throw after the first', (c) => {
    let reads = 0;
    c.feeds['input_ids'] = new Proxy(ids(c), { get: (t, k) => (reads++ > 1 ? (() => { throw new Error('trap'); })() : Reflect.get(t, k)) });
  }, /beforeForward: .*trap/],
  ['a removed feed', (c) => void delete c.feeds['attention_mask'], /removed the feed "attention_mask"/],
];

describe('malformed feeds from a beforeForward hook', () => {
  const runtimes: { dispose(): Promise<void> }[] = [];
  afterAll(() => Promise.all(runtimes.map((r) => r.dispose())));

  async function model(rewrite: Rewrite): Promise<WeftModel> {
    const weft = withHook(rewrite);
    runtimes.push(weft);
    return weft.load(fixture('tiny'), { backend: 'node', failover: { backends: ['spare'] } });
  }

  for (const [what, rewrite, message] of cases) {
    it(`${what}: a PluginError naming the plugin, no failover, in generate and evaluate`, async () => {
      const m = await model(rewrite);
      const events: { type: string }[] = [];
      const error = await new Promise((resolve) => {
        m.generate({ prompt: 'Once upon a time', maxTokens: 3 }).subscribe({ next: (e) => events.push(e), error: resolve, complete: () => resolve('done') });
      });
      expect(PluginError.isInstance(error), String(error)).toBe(true);
      expect(error).toMatchObject({ plugin: 'bad', stage: 'beforeForward' });
      expect((error as Error).message).toMatch(message);
      expect(events.some((e) => e.type === 'failover')).toBe(false);
      expect(m.backend).toBe('node');

      const evaluated = await m.evaluate({ inputIds: [1, 20, 30, 40] }).then(() => 'evaluated', (e: unknown) => e);
      expect(evaluated).toMatchObject({ plugin: 'bad', stage: 'beforeForward' });
    }, 15_000);
  }

  it('a hook that replaces a feed with a well-formed tensor still runs', async () => {
    const m = await model((c) => {
      const t = ids(c);
      c.feeds['input_ids'] = c.session.createTensor('int64', (t.data as BigInt64Array).slice(), t.dims);
    });
    const events = await collect(m.generate({ prompt: 'Once upon a time', maxTokens: 3 }));
    expect(events.at(-1)?.type).toBe('done');
  }, 15_000);
});
