/**
 * Batched prompts of different lengths are left-padded to the longest; every store must cache a
 * padded row's real tokens exactly as it caches the same prompt alone. KIVI groups keys across
 * tokens (per-channel blocks of G, flushed from its residual in whole blocks): it learns each row's
 * padding from `KvCacheInit.padding` and keeps pad keys out of its blocks.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { NamedRef, WeftModel } from '@weft/core';
import { collect, done, runtime, storyModel } from './helpers.js';

const LONG = 'Once upon a time, there was a little fox named Tom. Tom liked to play in the big green park with his friends every day after school. One sunny morning, he found a shiny red ball under a tree.';
const MID = 'Once upon a time, there was a little fox named';
const SHORT = 'Tom';
/** Prompt tokens: 55, 12 and 3. */
const LENGTHS: Record<string, number> = { [LONG]: 55, [MID]: 12, [SHORT]: 3 };
/** Batches: pads 0, 43, 52 (past one KIVI block of 32) and 0, 9 (inside one block). */
const BATCHES = [[LONG, MID, SHORT], [MID, SHORT]];
const TOKENS = 100;

// Per-token formats (fp16, int8, int4) are checked slot for slot in stores.test.ts; here the ones
// whose grouping spans tokens, and fp32 as the reference.
const STORES: [string, NamedRef][] = [
  ['fp32', 'fp32'],
  ['kivi', 'kivi'],
  ['kivi group 8, residual 12', { name: 'kivi', options: { group: 8, residual: 12 } }],
  ['kivi 4-bit, residual 64', { name: 'kivi', options: { bits: 4, residual: 64 } }],
  ['kivi fp16 residual', { name: 'kivi', options: { residualPrecision: 'fp16' } }],
  ['temporal', 'temporal'],
  ['temporal fp32=8,int8=24,rest=int2', { name: 'temporal', options: { fp32: 8, int8: 24, rest: 'int2' } }],
];

describe(`a left-padded batch row gives the tokens of its prompt alone (story model, ${TOKENS} greedy tokens)`, () => {
  const weft = runtime();
  afterAll(() => weft.dispose());
  let model: WeftModel | undefined;
  const load = async (): Promise<WeftModel> => (model ??= await weft.load(storyModel));
  const generate = async (prompt: string | string[], kv: NamedRef): Promise<(readonly number[])[]> =>
    done(await collect((await load()).generate({ prompt, kv, maxTokens: TOKENS, ignoreEos: true }))).rows.map((r) => r.ids);

  it('the prompts have the lengths the batches assume', async () => {
    const m = await load();
    for (const [prompt, length] of Object.entries(LENGTHS)) expect(m.tokenizer.encode(prompt)).toHaveLength(length);
  });

  it.each(STORES)('%s', async (_label, kv) => {
    const alone = new Map<string, readonly number[]>();
    for (const prompt of Object.keys(LENGTHS)) {
      const [ids] = await generate(prompt, kv);
      expect(ids).toHaveLength(TOKENS);
      alone.set(prompt, ids!);
    }
    for (const batch of BATCHES) {
      const rows = await generate(batch, kv);
      batch.forEach((prompt, r) => expect(rows[r], `${LENGTHS[prompt]}-token prompt in a batch padded to ${LENGTHS[batch[0]!]}`).toEqual(alone.get(prompt)));
    }
  });
});
