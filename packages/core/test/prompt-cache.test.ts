import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  definePlugin,
  FullPrecisionKvStore,
  InvalidOptionsError,
  ModelDisposedError,
  PluginError,
  type ChatMessage,
  type GenerationEvent,
  type GenerationRequest,
  type PromptCache,
  type WeftModel,
} from '../src/index.js';
import { collect, done, fixture, runtime, storyModel } from './helpers.js';

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
