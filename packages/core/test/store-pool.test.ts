import { afterAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_CAPABILITY,
  DEFAULT_KV_STORE,
  definePlugin,
  FullPrecisionKvStore,
  REUSABLE_CAPABILITY,
  type KvCacheInit,
  type WeftModel,
} from '../src/index.js';
import { collect, done, fixture, runtime } from './helpers.js';

/** A default store entry that counts what it makes and records which instance began each run. */
function countedStore(capabilities: readonly string[]) {
  const made: CountedStore[] = [];
  const began: CountedStore[] = [];
  class CountedStore extends FullPrecisionKvStore {
    override readonly name = 'counted';
    override begin(init: KvCacheInit): void {
      began.push(this);
      super.begin(init);
    }
  }
  const plugin = definePlugin({
    name: 'counted-store',
    version: '1.0.0',
    apiVersion: '^0.1.0',
    setup(ctx) {
      ctx.register('kv-cache', {
        name: 'counted',
        priority: 10,
        capabilities: [DEFAULT_CAPABILITY, ...capabilities],
        create: () => {
          const store = new CountedStore();
          made.push(store);
          return store;
        },
      });
    },
  });
  return { plugin, made, began };
}

const ids = async (model: WeftModel, request: Parameters<WeftModel['generate']>[0]) => done(await collect(model.generate(request))).rows.map((r) => r.ids);

describe('reusable default stores', () => {
  const reusable = countedStore([REUSABLE_CAPABILITY]);
  const weft = runtime([reusable.plugin]);
  const plain = countedStore([]);
  const plainWeft = runtime([plain.plugin]);
  const reference = runtime();
  afterAll(() => Promise.all([weft.dispose(), plainWeft.dispose(), reference.dispose()]));

  it('serve one run after another, with the tokens of a new store every run', async () => {
    const model = await weft.load(fixture('tiny'));
    const expected = await ids(await reference.load(fixture('tiny')), { prompt: ['a', 'bb'], maxTokens: 6 });
    expect(reusable.made.length).toBe(0);
    for (let i = 0; i < 3; i++) expect(await ids(model, { prompt: ['a', 'bb'], maxTokens: 6 })).toEqual(expected);
    expect(reusable.made.length).toBe(1);
    expect(new Set(reusable.began.slice(-3)).size).toBe(1);
    // evaluate takes the same idle instance.
    await model.evaluate({ inputIds: [1, 2, 3, 4, 5] });
    expect(reusable.made.length).toBe(1);
    expect(reusable.began.at(-1)).toBe(reusable.made[0]);
  });

  it('give each of several concurrent runs its own instance', async () => {
    const model = await weft.load(fixture('tiny'));
    await ids(model, { prompt: 'a', maxTokens: 2 }); // one idle instance now
    const startedAt = reusable.began.length;
    const runs = await Promise.all([0, 1, 2].map(() => ids(model, { prompt: 'a', maxTokens: 6 })));
    expect(runs[1]).toEqual(runs[0]);
    expect(runs[2]).toEqual(runs[0]);
    const concurrent = reusable.began.slice(startedAt);
    expect(new Set(concurrent).size).toBe(3);
  });

  it('are not reused after a failed run', async () => {
    const model = await weft.load(fixture('tiny'));
    await ids(model, { prompt: 'a', maxTokens: 2 });
    const failing = { name: 'fail', process: () => { throw new Error('no'); } };
    const beforeFail = reusable.began.length;
    await expect(collect(model.generate({ prompt: 'a', maxTokens: 4, processors: [failing] }))).rejects.toThrow(/failed in logits processor/);
    const failedWith = reusable.began[beforeFail];
    await ids(model, { prompt: 'a', maxTokens: 2 });
    expect(reusable.began.at(-1)).not.toBe(failedWith);
  });

  it('are made anew for every run without the capability, and for requests naming a store', async () => {
    const model = await plainWeft.load(fixture('tiny'));
    const before = plain.made.length;
    for (let i = 0; i < 3; i++) await ids(model, { prompt: 'a', maxTokens: 3 });
    expect(plain.made.length - before).toBe(3);
    const pooled = await weft.load(fixture('tiny'));
    const named = reusable.made.length;
    await ids(pooled, { prompt: 'a', maxTokens: 3, kv: 'counted' });
    await ids(pooled, { prompt: 'a', maxTokens: 3, kv: 'counted' });
    expect(reusable.made.length - named).toBe(2);
  });

  it('serve requests that name other components but no store', async () => {
    const model = await weft.load(fixture('tiny'));
    await ids(model, { prompt: 'a', maxTokens: 2 }); // one idle instance now
    const made = reusable.made.length;
    const keep = { name: 'keep', process: () => {} };
    const plainIds = await ids(model, { prompt: 'a', maxTokens: 4 });
    expect(await ids(model, { prompt: 'a', maxTokens: 4, processors: [keep] })).toEqual(plainIds);
    expect(await ids(model, { prompt: 'a', maxTokens: 4, temperature: 0.7, seed: 3, topK: 5 })).toHaveLength(1);
    expect(reusable.made.length).toBe(made);
  });

  it('include core\'s fp32 store', () => {
    const fp32 = reference.registry.list('kv-cache').find((e) => e.name === DEFAULT_KV_STORE);
    expect(fp32?.capabilities).toContain(REUSABLE_CAPABILITY);
  });
});
