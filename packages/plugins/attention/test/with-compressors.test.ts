import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NamedRef, WeftModel } from '@weft/core';
import { kvCompressors } from '@weft/plugin-kv';
import { attentionRouters } from '../src/index.js';
import { ATTENTIONS_GRAPH, collect, done, runtime, storyModel } from './helpers.js';

const BUDGET = 16;
/** Every compressor, with small residual/tier windows so that quantised slots get evicted too. */
const STORES: readonly NamedRef[] = [
  'fp32',
  'fp16',
  'int8',
  { name: 'int4', options: { group: 32 } },
  { name: 'kivi', options: { group: 8, residual: 8 } },
  { name: 'temporal', options: { fp32: 4, int8: 4 } },
];
const ROUTERS: readonly NamedRef[] = [
  'full',
  { name: 'window', options: { budget: BUDGET } },
  { name: 'sink-window', options: { sinks: 4, window: BUDGET - 4 } },
  { name: 'strided', options: { budget: BUDGET, stride: 3 } },
  { name: 'heavy-hitter', options: { budget: BUDGET } },
  { name: 'key-norm', options: { budget: BUDGET } },
  { name: 'hybrid', options: { budget: BUDGET } },
  { name: 'content-aware', options: { budget: BUDGET, entropy: 1 } },
];
const label = (ref: NamedRef) => (typeof ref === 'string' ? ref : ref.name);
const COMBINATIONS = STORES.flatMap((kv) => ROUTERS.map((router) => [`${label(kv)} × ${label(router)}`, kv, router] as const));

describe('every compressor × router on models/story', () => {
  const weft = runtime([attentionRouters(), kvCompressors()]);
  let model: WeftModel;
  let prompt: number[];
  let fp32SlotBytes: number;
  beforeAll(async () => {
    model = await weft.load(storyModel, { onnxFile: ATTENTIONS_GRAPH });
    prompt = model.tokenizer.encode('Once upon a time, there was a little fox named Tom. Tom lived in a big forest with his mother. One day, Tom found a red ball.');
    fp32SlotBytes = model.layout.numLayers * 2 * model.layout.numKvHeads * model.layout.headDim * 4;
  });
  afterAll(() => weft.dispose());

  it.each(COMBINATIONS)('%s generates within its budget and never holds more than float32 would', async (_label, kv, router) => {
    const last = done(await collect(model.generate({ inputIds: prompt, maxTokens: 24, kv, router })));
    expect(last.rows[0]!.ids).toHaveLength(24);
    expect(last.rows[0]!.ids.every((id) => Number.isInteger(id) && id >= 0 && id < model.config.vocabSize)).toBe(true);
    const slots = label(router) === 'full' ? prompt.length + 23 : BUDGET;
    if (label(kv) === 'fp32') expect(last.kvBytes).toBe(slots * fp32SlotBytes);
    else expect(last.kvBytes).toBeLessThan(slots * fp32SlotBytes);
  });
});

describe('positions=cache with every compressor', () => {
  const weft = runtime([attentionRouters(), kvCompressors()]);
  afterAll(() => weft.dispose());

  // Core re-rotates cached keys to their cache positions and gives each store back the keys it
  // fed, so a quantised store keeps keys at the rotation they were made at: cache positions then
  // score like absolute ones (not equal: the new keys are rotated, hence quantised, differently;
  // measured within 0.5% on this story, 200 tokens through a 32-token window).
  it.each(STORES.map((kv) => [label(kv), kv] as const))('%s: a window in cache positions scores like absolute positions', async (_label, kv) => {
    const model = await weft.load(storyModel);
    const story = readFileSync(join(storyModel, 'data/long.txt'), 'utf8').split('\n\n')[0]!;
    const inputIds = model.tokenizer.encode(story).slice(0, 200);
    const score = async (positions: 'absolute' | 'cache') => (await model.evaluate({ inputIds, kv, router: { name: 'window', options: { budget: 32, positions } } })).perplexity;
    const absolute = await score('absolute');
    expect(Math.abs((await score('cache')) / absolute - 1)).toBeLessThan(0.01);
  });
});
