import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AttentionRouter, NamedRef, WeftModel } from '@weft/core';
import { collect, done, perHeadWindowRouter, runtime, storyModel, windowRouter } from './helpers.js';

const PROMPT = 'Once upon a time, there was a little fox named Tom.';
/** Story model: 4 layers × (key, value) × 2 kv heads = 16 lanes of head_dim 32. */
const LANES = 16;
const FP32_SLOT = LANES * 32 * 4;

/** At-rest bytes of `n` slots filled in order (no eviction), per store. */
const plainBytes: Record<string, (n: number) => number> = {
  fp16: (n) => LANES * n * 64,
  int8: (n) => LANES * n * (32 + 4),
  int4: (n) => LANES * n * (16 + 4),
  kivi: (n) => {
    // Keys leave the 32-token residual in blocks of 32; values one at a time (the newest 32 stay).
    const qk = n > 32 ? Math.ceil((n - 32) / 32) * 32 : 0;
    const qv = Math.max(n - 32, 0);
    return (LANES / 2) * ((qk / 32) * (32 * 8 + 32 * 4) + (n - qk) * 128) + (LANES / 2) * (qv * 12 + (n - qv) * 128);
  },
  temporal: (n) => LANES * (Math.min(n, 64) * 128 + Math.min(Math.max(n - 64, 0), 192) * 36 + Math.max(n - 256, 0) * 20),
};

/** Slots cached at the end of a run: every fed token (the last sampled one is not fed when the run hit its length). */
const slotsAtEnd = (last: ReturnType<typeof done>): number => last.usage.totalTokens - (last.finishReason === 'length' ? 1 : 0);

describe('compressors on the story model', () => {
  const weft = runtime();
  afterAll(() => weft.dispose());
  let model: WeftModel | undefined;
  const load = async (): Promise<WeftModel> => (model ??= await weft.load(storyModel));

  it('fp16 gives the same greedy tokens as fp32 (32 tokens)', async () => {
    const m = await load();
    const fp32 = done(await collect(m.generate({ prompt: PROMPT, maxTokens: 32 })));
    const fp16 = done(await collect(m.generate({ prompt: PROMPT, maxTokens: 32, kv: 'fp16' })));
    expect(fp16.rows[0]!.ids).toEqual(fp32.rows[0]!.ids);
    expect(fp16.kvBytes * 2).toBe(fp32.kvBytes);
  });

  it('int8 perplexity is within 1% of fp32 on held-out text', async () => {
    const m = await load();
    const text = readFileSync(join(storyModel, 'data/heldout.txt'), 'utf8').slice(0, 2000);
    const inputIds = m.tokenizer.encode(text).slice(0, 300);
    expect(inputIds.length).toBe(300);
    const fp32 = await m.evaluate({ inputIds });
    const int8 = await m.evaluate({ inputIds, kv: 'int8' });
    expect(Math.abs(int8.perplexity / fp32.perplexity - 1)).toBeLessThan(0.01);
    expect(int8.kvBytes).toBe(plainBytes['int8']!(299));
  });

  it.each(Object.keys(plainBytes))('%s generates with exact at-rest bytes', async (kv) => {
    const m = await load();
    const last = done(await collect(m.generate({ prompt: PROMPT, maxTokens: 48, kv })));
    expect(last.rows[0]!.ids.length).toBeGreaterThan(0);
    const n = slotsAtEnd(last);
    expect(last.kvBytes).toBe(plainBytes[kv]!(n));
    expect(last.kvBytes).toBeLessThanOrEqual(n * FP32_SLOT);
  });

  /** Stores and their bytes once a 16-slot window is full. */
  const windowed: [string, NamedRef, number, number?][] = [
    ['fp16', 'fp16', LANES * 16 * 64],
    ['int8', 'int8', LANES * 16 * 36],
    ['int4', 'int4', LANES * 16 * 20],
    // The window (16) stays inside the residual (32): nothing is quantised.
    ['kivi', 'kivi', 16 * FP32_SLOT],
    // The window stays inside the fp32 tier (64).
    ['temporal', 'temporal', 16 * FP32_SLOT],
    // Shared window: 8 newest fp32, the other 8 int8. The per-head router evicts one of the newest
    // slots each step, so the fp32 tier holds 7 (evicted tokens leave their tier; none move up).
    ['temporal fp32=8,int8=24', { name: 'temporal', options: { fp32: 8, int8: 24 } }, LANES * (8 * 128 + 8 * 36), LANES * (7 * 128 + 9 * 36)],
  ];

  it.each(windowed)('%s evicts with a shared and a per-head window router', async (_label, kv, bytes, perHeadBytes = bytes) => {
    const m = await load();
    const heads: string[] = [];
    const perHead = perHeadWindowRouter(16);
    const spy: AttentionRouter = {
      ...perHead,
      select(context) {
        heads.push(context.slotPositions.map((p) => p.join(',')).join('|'));
        return perHead.select(context);
      },
    };
    for (const [router, expected] of [[windowRouter(16), bytes], [spy, perHeadBytes]] as const) {
      const last = done(await collect(m.generate({ prompt: PROMPT, maxTokens: 40, kv, router })));
      expect(last.rows[0]!.ids.length).toBeGreaterThan(0);
      expect(last.kvBytes).toBe(expected);
    }
    // The per-head router left different positions in each head.
    expect(heads.some((h) => new Set(h.split('|')).size > 1)).toBe(true);
  });

  it('kivi with small groups evicts from partly emptied key blocks', async () => {
    const m = await load();
    const kv = { name: 'kivi', options: { group: 8, residual: 8 } };
    for (const router of [windowRouter(16), perHeadWindowRouter(16)]) {
      const last = done(await collect(m.generate({ prompt: PROMPT, maxTokens: 40, kv, router })));
      expect(last.rows[0]!.ids.length).toBeGreaterThan(0);
      expect(last.kvBytes).toBeLessThan(16 * FP32_SLOT);
      // At least 8 of the 16 slots are quantised (8 + 4 bytes per token and head for values).
      expect(last.kvBytes).toBeLessThanOrEqual((LANES / 2) * (8 * 128 + 8 * 8 + 2 * 32 * 4) + (LANES / 2) * (8 * 128 + 8 * 12));
    }
  });
});
