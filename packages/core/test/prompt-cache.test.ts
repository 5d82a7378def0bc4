import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  definePlugin,
  FullPrecisionKvStore,
  InvalidOptionsError,
  ModelDisposedError,
  PluginError,
  type BackendTensor,
  type ChatMessage,
  type GenerationEvent,
  type GenerationRequest,
  type PromptCache,
  type WeftModel,
} from '../src/index.js';
import { collect, done, exposedGc, fixture, kvLayout, runtime, storyModel, wrappedNodeBackend } from './helpers.js';

/** Stores for the tests: `fp32` without `truncate`, and one whose `truncate` throws. */
const testStores = definePlugin({
  name: 'test-cache-stores',
  version: '1.0.0',
  apiVersion: '^0.1.0',
  setup(ctx) {
    ctx.register('kv-cache', {
      name: 'no-truncate',
      create: () => Object.assign(new FullPrecisionKvStore(), { name: 'no-truncate', truncate: undefined }),
    });
    ctx.register('kv-cache', {
      name: 'bad-truncate',
      create: () =>
        Object.assign(new FullPrecisionKvStore(), {
          name: 'bad-truncate',
          truncate: () => {
            throw new Error('cannot cut');
          },
        }),
    });
    ctx.register('attention-router', {
      name: 'keep-all',
      create: () => ({ specificationVersion: 'v1' as const, name: 'keep-all', select: () => undefined }),
    });
  },
});

const weft = runtime([testStores]);

/**
 * A plugin (`plugin`) registering `fp32` stores as `name`, whose disposals it counts (`disposed`),
 * with `overrides` as property descriptors on each instance.
 */
function countingStore(plugin: string, name: string, overrides: PropertyDescriptorMap = {}) {
  const counted = {
    disposed: 0,
    plugin: definePlugin({
      name: plugin,
      version: '1.0.0',
      apiVersion: '^0.1.0',
      setup(ctx) {
        ctx.register('kv-cache', {
          name,
          create: () => {
            const store = new FullPrecisionKvStore();
            const dispose = store.dispose.bind(store);
            const count = () => {
              counted.disposed++;
              dispose();
            };
            return Object.defineProperties(store, { name: { value: name }, dispose: { value: count }, ...overrides });
          },
        });
      },
    }),
  };
  return counted;
}
let model: WeftModel;
beforeAll(async () => {
  model = await weft.load(storyModel);
});
afterAll(() => weft.dispose());

interface Run {
  readonly ids: readonly number[];
  readonly cachedTokens: number;
  readonly promptIds: readonly number[];
  /** Tokens the first forward pass was fed. */
  readonly firstFed: number;
}

async function run(request: GenerationRequest, on: WeftModel = model): Promise<Run> {
  const events: GenerationEvent[] = await collect(on.generate({ maxTokens: 12, ...request }));
  const start = events.find((e) => e.type === 'start')!;
  const first = events.find((e) => e.type === 'metrics' && e.step === 0);
  return {
    ids: done(events).rows[0]!.ids,
    cachedTokens: start.type === 'start' ? start.cachedTokens : -1,
    promptIds: start.type === 'start' ? start.promptIds[0]! : [],
    firstFed: first?.type === 'metrics' ? first.inputTokens : -1,
  };
}

const turn1: ChatMessage[] = [{ role: 'user', content: 'Tell me about a cat.' }];

describe('prompt cache', () => {
  it('feeds only what the cache lacks on the next turn, with the same greedy reply as a run without it', async () => {
    const cache = model.createPromptCache();
    const first = await run({ messages: turn1, promptCache: cache });
    expect(first.cachedTokens).toBe(0);
    // It holds what the run fed: the prompt and every generated token but the last.
    expect(cache.ids).toEqual([...first.promptIds, ...first.ids.slice(0, -1)]);
    expect(cache.bytes()).toBeGreaterThan(0);
    expect(cache.busy).toBe(false);

    const reply = model.tokenizer.decode(first.ids, { skipSpecialTokens: true });
    const turn2: ChatMessage[] = [...turn1, { role: 'assistant', content: reply }, { role: 'user', content: 'And a dog?' }];
    const cold = await run({ messages: turn2 });
    const warm = await run({ messages: turn2, promptCache: cache });
    expect(warm.promptIds).toEqual(cold.promptIds);
    expect(warm.cachedTokens).toBeGreaterThan(first.promptIds.length);
    expect(warm.firstFed).toBe(warm.promptIds.length - warm.cachedTokens);
    expect(warm.ids).toEqual(cold.ids);
    cache.dispose();
  });

  it('cuts the cache back where the next prompt parts from it, and feeds at least one token of a prompt it holds whole', async () => {
    const cache = model.createPromptCache();
    const prompt = 'Once upon a time, there was a little fox named Tom.';
    const first = await run({ prompt, promptCache: cache });
    // The same prompt again: all but its last token come from the cache (cut back from the reply).
    const again = await run({ prompt, promptCache: cache });
    expect(again.cachedTokens).toBe(first.promptIds.length - 1);
    expect(again.firstFed).toBe(1);
    expect(again.ids).toEqual(first.ids);
    // A prompt sharing only its start: the cache is cut back to the shared ids.
    const other = 'Once upon a time, there was a big dog.';
    const cold = await run({ prompt: other });
    const warm = await run({ prompt: other, promptCache: cache });
    let shared = 0;
    while (cold.promptIds[shared] === first.promptIds[shared]) shared++;
    expect(warm.cachedTokens).toBe(shared);
    expect(warm.ids).toEqual(cold.ids);
    expect(cache.ids).toEqual([...warm.promptIds, ...warm.ids.slice(0, -1)]);
    cache.dispose();
  });

  it('takes an undefined promptCache (or any other field) as left out, also in its type under exactOptionalPropertyTypes', async () => {
    const maybe: PromptCache | undefined = undefined as PromptCache | undefined;
    // Type-checked by the tests' tsconfig (exactOptionalPropertyTypes): a conditional cache needs no spread.
    const request: GenerationRequest = { prompt: 'Hello', promptCache: maybe, router: undefined, seed: undefined };
    const plain = await run(request);
    expect(plain.cachedTokens).toBe(0);
    expect(plain.ids).toEqual((await run({ prompt: 'Hello' })).ids);
  });

  it('starts over with a store that cannot be cut back, unless the prompt extends what it holds', async () => {
    const cache = model.createPromptCache();
    const prompt = 'The sun went down.';
    const first = await run({ prompt, kv: 'no-truncate', promptCache: cache });
    expect((await run({ prompt, kv: 'no-truncate', promptCache: cache })).cachedTokens).toBe(0);
    const held = cache.ids;
    const extended = await run({ inputIds: [...held, 5, 6], kv: 'no-truncate', promptCache: cache });
    expect(extended.cachedTokens).toBe(held.length);
    expect(extended.ids).toEqual((await run({ inputIds: [...held, 5, 6] })).ids);
    expect(first.cachedTokens).toBe(0);
    cache.dispose();
  });

  it('starts over when the request names another store or other options', async () => {
    const cache = model.createPromptCache();
    const prompt = 'A bird sang in the tree.';
    await run({ prompt, promptCache: cache });
    expect((await run({ prompt, kv: 'no-truncate', promptCache: cache })).cachedTokens).toBe(0);
    expect((await run({ prompt, kv: 'fp32', promptCache: cache })).cachedTokens).toBe(0);
    expect((await run({ prompt, kv: 'fp32', promptCache: cache })).cachedTokens).toBeGreaterThan(0);
    expect((await run({ prompt, kv: { name: 'fp32', options: {} }, promptCache: cache })).cachedTokens).toBe(0);
    cache.dispose();
  });

  it('keeps what an aborted run fed, so the next request continues exactly', async () => {
    const cache = model.createPromptCache();
    const controller = new AbortController();
    let tokens = 0;
    const events: GenerationEvent[] = [];
    await new Promise<void>((resolve, reject) =>
      model.generate({ prompt: 'The little boat', maxTokens: 30, signal: controller.signal, promptCache: cache }).subscribe({
        next: (e) => {
          events.push(e);
          if (e.type === 'token' && ++tokens === 4) controller.abort();
        },
        error: reject,
        complete: resolve,
      }),
    );
    expect(done(events).finishReason).toBe('abort');
    const prompt = (events[0] as Extract<GenerationEvent, { type: 'start' }>).promptIds[0]!;
    const generated = done(events).rows[0]!.ids;
    expect(generated).toHaveLength(4);
    // The abort is seen before the fourth token is fed: the cache holds the prompt and the first three.
    const held = cache.ids;
    expect(held).toEqual([...prompt, ...generated.slice(0, -1)]);
    const next = [...prompt, ...generated, 7];
    const warm = await run({ inputIds: next, promptCache: cache });
    expect(warm.cachedTokens).toBe(held.length);
    expect(warm.ids).toEqual((await run({ inputIds: next })).ids);
    cache.dispose();
  });

  it('refuses what it cannot serve with an InvalidOptionsError naming promptCache', async () => {
    const cache = model.createPromptCache();
    const refused = async (request: GenerationRequest) => {
      const error = await run(request).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(InvalidOptionsError.isInstance(error)).toBe(true);
      expect((error as InvalidOptionsError).option).toBe('promptCache');
      return (error as Error).message;
    };
    expect(await refused({ prompt: ['a', 'b'], promptCache: cache })).toMatch(/one conversation.*2 prompts/);
    expect(await refused({ prompt: 'a', router: 'keep-all', promptCache: cache })).toMatch(/attention router.*"keep-all"/);
    expect(await refused({ prompt: 'a', kv: new FullPrecisionKvStore(), promptCache: cache })).toMatch(/by name/);
    expect(await refused({ prompt: 'a', promptCache: {} as PromptCache })).toMatch(/createPromptCache/);
    const other = await weft.load(fixture('tiny'));
    expect(await refused({ prompt: 'a', promptCache: other.createPromptCache() })).toMatch(/another model/);
    await other.dispose();
    cache.dispose();
    expect(await refused({ prompt: 'a', promptCache: cache })).toMatch(/disposed/);
  });

  it('serves one generation at a time, and is free again once that one ends', async () => {
    const cache = model.createPromptCache();
    const first = collect(model.generate({ prompt: 'One', maxTokens: 20, promptCache: cache }));
    // The first run claims the cache on subscription, before its first await.
    expect(cache.busy).toBe(true);
    await expect(collect(model.generate({ prompt: 'Two', maxTokens: 2, promptCache: cache }))).rejects.toThrow(/in use by another generation/);
    await first;
    expect(cache.busy).toBe(false);
    expect((await run({ prompt: 'One', promptCache: cache })).cachedTokens).toBeGreaterThan(0);
    cache.dispose();
  });

  it('a stream left during a forward pass hands the cache on once that pass settles: the next request waits, then reuses it', async () => {
    let delay = 0;
    const slow = wrappedNodeBackend({
      name: 'slow',
      priority: 1000,
      wrapSession: (s) => ({
        ...s,
        async run(feeds, options) {
          if (delay > 0) await new Promise((r) => setTimeout(r, delay));
          return s.run(feeds, options);
        },
      }),
    });
    const slowWeft = runtime([slow]);
    const slowModel = await slowWeft.load(storyModel);
    const cache = slowModel.createPromptCache();
    const prompt = 'Once upon a time, there was a little fox named Tom.';
    await run({ prompt, promptCache: cache }, slowModel);
    // Aborted while its first pass is pending: the stream completes at once, the pass settles later.
    delay = 200;
    const controller = new AbortController();
    const events = await new Promise<GenerationEvent[]>((resolve, reject) => {
      const seen: GenerationEvent[] = [];
      slowModel.generate({ prompt: `${prompt} He`, maxTokens: 4, promptCache: cache, signal: controller.signal }).subscribe({
        next: (e) => {
          seen.push(e);
          if (e.type === 'start') setTimeout(() => controller.abort(), 30);
        },
        error: reject,
        complete: () => resolve(seen),
      });
    });
    expect(done(events).finishReason).toBe('abort');
    delay = 0;
    // Made on completion, as a chat's next turn would be: it waits for the pass, then goes on from the cache.
    const next = await run({ prompt: `${prompt} He ran`, promptCache: cache }, slowModel);
    expect(next.cachedTokens).toBeGreaterThan(10);
    expect(next.ids).toEqual((await run({ prompt: `${prompt} He ran` }, slowModel)).ids);

    // Leaving a stream (`break`), then asking again at once: the same.
    for (let i = 0; i < 3; i++) {
      let n = 0;
      for await (const piece of slowModel.stream({ prompt, maxTokens: 20, promptCache: cache })) if (piece !== '' && ++n === 3) break;
      expect((await run({ prompt, promptCache: cache }, slowModel)).cachedTokens).toBeGreaterThan(0);
    }
    await slowWeft.dispose();
  });

  it('a request stopped before it starts leaves the cache as it was', async () => {
    const cache = model.createPromptCache();
    await run({ prompt: 'The old tree stood on the hill.', promptCache: cache });
    const held = cache.ids;
    const events = await collect(model.generate({ prompt: 'Something else', promptCache: cache, signal: AbortSignal.abort() }));
    expect(done(events).finishReason).toBe('abort');
    expect(cache.ids).toEqual(held);
    cache.dispose();
  });

  it('clear() frees what it holds, and a clear during a run frees what that run leaves', async () => {
    const cache = model.createPromptCache();
    await run({ prompt: 'Hello there', promptCache: cache });
    expect(cache.ids.length).toBeGreaterThan(0);
    cache.clear();
    expect(cache.ids).toEqual([]);
    expect(cache.bytes()).toBe(0);
    const running = collect(model.generate({ prompt: 'Hello there', maxTokens: 8, promptCache: cache }));
    cache.clear();
    await running;
    expect(cache.ids).toEqual([]);
    expect((await run({ prompt: 'Hello there', promptCache: cache })).cachedTokens).toBe(0);
    cache.dispose();
  });

  it('a truncate that throws fails the run with a PluginError naming the plugin, and the cache starts over after', async () => {
    const cache = model.createPromptCache();
    await run({ prompt: 'The cat sat on the mat.', kv: 'bad-truncate', promptCache: cache });
    const error = await run({ prompt: 'The cat sat', kv: 'bad-truncate', promptCache: cache }).catch((e: unknown) => e);
    expect(PluginError.isInstance(error)).toBe(true);
    expect((error as PluginError).plugin).toBe('test-cache-stores');
    expect((error as Error).message).toMatch(/kv truncate.*cannot cut/s);
    expect(cache.busy).toBe(false);
    expect(cache.ids).toEqual([]);
    expect((await run({ prompt: 'The cat sat', kv: 'bad-truncate', promptCache: cache })).cachedTokens).toBe(0);
    cache.dispose();
  });

  it('cuts back a float16 cache kept as the graph returned it', async () => {
    const half = await weft.load(fixture('tiny-fp16'));
    const cache = half.createPromptCache();
    const prompt = 'Once upon a time, there was a little fox named Tom.';
    const first = await run({ prompt, promptCache: cache }, half);
    const other = 'Once upon a time, there was a big dog.';
    const warm = await run({ prompt: other, promptCache: cache }, half);
    expect(warm.cachedTokens).toBeGreaterThan(1);
    expect(warm.cachedTokens).toBeLessThan(first.promptIds.length);
    expect(warm.ids).toEqual((await run({ prompt: other }, half)).ids);
    await half.dispose();
  });

  it('a truncate getter that throws is a PluginError naming the plugin, and the cached store is freed', async () => {
    const counted = countingStore('getter-store', 'getter', { truncate: { get: () => { throw new Error('getter broke'); } } });
    const getterWeft = runtime([counted.plugin]);
    const own = await getterWeft.load(storyModel);
    const cache = own.createPromptCache();
    await run({ prompt: 'The cat sat on the mat.', kv: 'getter', promptCache: cache }, own);
    counted.disposed = 0;
    const error = await run({ prompt: 'The cat sat', kv: 'getter', promptCache: cache }, own).catch((e: unknown) => e);
    expect(PluginError.isInstance(error)).toBe(true);
    expect((error as PluginError).plugin).toBe('getter-store');
    expect((error as Error).message).toMatch(/kv truncate.*getter broke/s);
    // The cached store and the one the run resolved are both freed.
    expect(counted.disposed).toBeGreaterThanOrEqual(2);
    expect(cache.ids).toEqual([]);
    await getterWeft.dispose();
  });

  it("fp32's truncate keeps the class of a float16 cache's data (a Float16Array where the platform has one)", () => {
    class Float16Like extends Uint16Array {}
    const made: { type: string; data: ArrayLike<number>; dims: readonly number[] }[] = [];
    const tensor = (type: string, data: ArrayLike<number>, dims: readonly number[]): BackendTensor =>
      ({ type, data, dims, dispose: () => {} }) as unknown as BackendTensor;
    const session = {
      createTensor: (type: string, data: ArrayLike<number>, dims: readonly number[]) => {
        made.push({ type, data, dims });
        return tensor(type, data, dims);
      },
      garbageCollectedTensors: true,
    };
    const store = new FullPrecisionKvStore();
    const layout = kvLayout({ layers: 1, kvHeads: 1, headDim: 2 }, { pastType: 'float16' });
    store.begin({ layout, batchSize: 1, session: session as never });
    const values = Float16Like.from([1, 2, 3, 4, 5, 6]);
    store.append({ 'present.0.key': tensor('float16', values, [1, 1, 3, 2]), 'present.0.value': tensor('float16', values, [1, 1, 3, 2]) });
    made.length = 0;
    store.truncate(2);
    expect(made).toHaveLength(2);
    for (const t of made) {
      expect(t.type).toBe('float16');
      expect(t.data).toBeInstanceOf(Float16Like);
      expect(Array.from(t.data)).toEqual([1, 2, 3, 4]);
    }
  });

  it('holds nothing for a graph without past inputs', async () => {
    const recompute = await weft.load(fixture('tiny-no-past'));
    const cache = recompute.createPromptCache();
    const first = await run({ prompt: 'Once upon a time', promptCache: cache }, recompute);
    const again = await run({ prompt: 'Once upon a time', promptCache: cache }, recompute);
    expect(again.cachedTokens).toBe(0);
    expect(again.ids).toEqual(first.ids);
    expect(cache.ids).toEqual([]);
    await recompute.dispose();
  });

  it('a cache dropped without dispose() is collected, and the store it held is disposed', async () => {
    const collectGarbage = exposedGc();
    const counted = countingStore('watched-store', 'watched');
    const watched = runtime([counted.plugin]);
    const own = await watched.load(storyModel);
    let ref: WeakRef<PromptCache> | undefined;
    await (async () => {
      const cache = own.createPromptCache();
      ref = new WeakRef(cache);
      await run({ prompt: 'A small frog sat on a leaf.', kv: 'watched', promptCache: cache }, own);
    })();
    expect(ref!.deref()?.ids.length).toBeGreaterThan(0);
    const before = counted.disposed;
    // No deref() before a collection in the same job: it would keep the cache alive for that job.
    for (let i = 0; i < 20 && counted.disposed === before; i++) {
      collectGarbage();
      await new Promise((r) => setTimeout(r, 10));
    }
    // The model kept no strong reference to it, and the store it held was disposed.
    expect(ref!.deref()).toBeUndefined();
    expect(counted.disposed).toBe(before + 1);
    await watched.dispose();
  });

  it("the model's dispose() frees the store of a cache collected but not yet finalized, before its sessions go", async () => {
    const collectGarbage = exposedGc();
    const counted = countingStore('watched-store-2', 'watched');
    const watched = runtime([counted.plugin]);
    const own = await watched.load(storyModel);
    await (async () => {
      const cache = own.createPromptCache();
      await run({ prompt: 'A small frog sat on a leaf.', kv: 'watched', promptCache: cache }, own);
    })();
    const before = counted.disposed;
    // Collected in this job; its finalizer cannot run before the job ends, so dispose() must free it.
    collectGarbage();
    const disposing = own.dispose();
    expect(counted.disposed).toBe(before + 1);
    await disposing;
    await watched.dispose();
  });

  it("the model's dispose() frees its caches; a disposed model makes none", async () => {
    const own = await weft.load(storyModel);
    const cache = own.createPromptCache();
    await run({ prompt: 'A small frog', promptCache: cache }, own);
    expect(cache.bytes()).toBeGreaterThan(0);
    await own.dispose();
    expect(cache.ids).toEqual([]);
    expect(cache.bytes()).toBe(0);
    expect(() => own.createPromptCache()).toThrow(ModelDisposedError);
  });
});
