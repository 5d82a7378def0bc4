import { afterAll, describe, expect, it } from 'vitest';
import { definePlugin, type AttentionRouter, type KvSelection } from '../src/index.js';
import { collect, done, fixture, runtime } from './helpers.js';

/** Keeps the last `window` slots (a minimal router for testing core's eviction path). */
const windowRouter = (window: number, perHead = false): AttentionRouter => ({
  specificationVersion: 'v1',
  name: `window-${window}`,
  select({ cacheLength, layout }): KvSelection | undefined {
    if (cacheLength <= window) return undefined;
    const slots = Array.from({ length: window }, (_, i) => cacheLength - window + i);
    return perHead ? { kind: 'per-head', slots: Array.from({ length: layout.numKvHeads }, () => slots) } : { kind: 'shared', slots };
  },
});

describe('attention routers in the loop', () => {
  const maskLengths: number[] = [];
  const positions: number[] = [];
  const weft = runtime([
    definePlugin({
      name: 'feed-spy',
      version: '1.0.0',
      apiVersion: '^0.1.0',
      setup(ctx) {
        ctx.addHooks({
          beforeForward({ feeds }) {
            maskLengths.push(feeds['attention_mask']!.dims[1]!);
            const p = feeds['position_ids']!.data as BigInt64Array;
            positions.push(Number(p[p.length - 1]));
          },
        });
      },
    }),
  ]);
  afterAll(() => weft.dispose());

  it('keeps every token when the router keeps every slot', async () => {
    const model = await weft.load(fixture('tiny'));
    const keepAll: AttentionRouter = { specificationVersion: 'v1', name: 'all', select: ({ cacheLength }) => ({ kind: 'shared', slots: Array.from({ length: cacheLength }, (_, i) => i) }) };
    const plain = done(await collect(model.generate({ prompt: 'Once upon a time', maxTokens: 16 })));
    const routed = done(await collect(model.generate({ prompt: 'Once upon a time', maxTokens: 16, router: keepAll })));
    expect(routed.rows[0]!.ids).toEqual(plain.rows[0]!.ids);
  });

  it('feeds only the kept slots while positions keep counting every token', async () => {
    const model = await weft.load(fixture('tiny'));
    maskLengths.length = 0;
    positions.length = 0;
    const prompt = model.tokenizer.encode('Once upon a time, there was a little fox');
    const last = done(await collect(model.generate({ inputIds: prompt, maxTokens: 12, router: windowRouter(8) })));
    // Step 0 sees the prompt; later steps see at most 8 cached slots plus the new token.
    expect(maskLengths[0]).toBe(prompt.length);
    expect(maskLengths.slice(1).every((n) => n === 9)).toBe(true);
    expect(positions.at(-1)).toBe(prompt.length + 10);
    // 8 slots × 2 layers × (key + value) × 2 kv heads × 8 dims × 4 bytes
    expect(last.kvBytes).toBe(8 * 2 * 2 * 2 * 8 * 4);
  });

  it('numbers new tokens within the cache in StreamingLLM mode', async () => {
    const model = await weft.load(fixture('tiny'));
    positions.length = 0;
    const router = { ...windowRouter(8), positions: 'cache' as const };
    await collect(model.generate({ inputIds: [1, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14], maxTokens: 6, router }));
    expect(positions.slice(1)).toEqual([8, 8, 8, 8, 8]);
  });

  it('gives evaluate() the same eviction as generation', async () => {
    const model = await weft.load(fixture('tiny'));
    const inputIds = model.tokenizer.encode('Once upon a time, there was a little fox named Tom. Tom lived in a big forest.');
    const full = await model.evaluate({ inputIds });
    const windowed = await model.evaluate({ inputIds, router: windowRouter(4) });
    expect(windowed.kvBytes).toBe(4 * 2 * 2 * 2 * 8 * 4);
    expect(windowed.kvBytesFp32).toBe(full.kvBytes);
    expect(windowed.perplexity).not.toBeCloseTo(full.perplexity, 3);
  });

  it('rejects per-head selections on padded batches and malformed selections', async () => {
    const model = await weft.load(fixture('tiny'));
    await expect(collect(model.generate({ prompt: ['a', 'longer prompt here'], maxTokens: 12, router: windowRouter(3, true) }))).rejects.toThrow(
      /selects per head, which needs prompts of equal length/,
    );
    const bad: AttentionRouter = { specificationVersion: 'v1', name: 'bad', select: () => ({ kind: 'shared', slots: [3, 1] }) };
    await expect(collect(model.generate({ prompt: 'Once upon a time', maxTokens: 4, router: bad }))).rejects.toThrow(/strictly ascending/);
  });
});

describe('runtime defaults from plugins', () => {
  it('uses the kv store and router a plugin marks as default when the request names none', async () => {
    const seen: string[] = [];
    const weft = runtime([
      definePlugin({
        name: 'defaults',
        version: '1.0.0',
        apiVersion: '^0.1.0',
        setup(ctx) {
          ctx.register('attention-router', {
            name: 'last-4',
            capabilities: ['default'],
            create: () => {
              seen.push('router');
              return windowRouter(4);
            },
          });
        },
      }),
    ]);
    const model = await weft.load(fixture('tiny'));
    const last = done(await collect(model.generate({ prompt: 'Once upon a time, there was', maxTokens: 6 })));
    expect(seen).toEqual(['router']);
    expect(last.kvBytes).toBe(4 * 2 * 2 * 2 * 8 * 4);
    await weft.dispose();
  });
});
