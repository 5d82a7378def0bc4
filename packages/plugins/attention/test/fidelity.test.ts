/**
 * The published methods on inputs small enough to work out by hand, through the routers'
 * select() over several steps, with the evictions applied to the slots' positions as a store
 * applies them (`retain`): StreamingLLM's sinks stay the first tokens; H2O's scores follow each
 * head's own eviction. Attention values are dyadic fractions, so every sum is exact.
 */
import { describe, expect, it } from 'vitest';
import { cacheKeyRerotation, InvalidOptionsError, parseModelConfig, type KvSelection } from '@weft/core';
import { createRouter, type AttentionScores, type HeavyHitterRouter } from '../src/index.js';
import { layout, observation, routing, tensor } from './synthetic.js';

/** A store's slot positions after `selection` (per kv head). */
function retain(positions: number[][], selection: KvSelection | undefined): number[][] {
  if (!selection) return positions;
  return positions.map((list, h) => (selection.kind === 'shared' ? selection.slots : selection.slots[h]!).map((slot) => list[slot]!));
}

describe('StreamingLLM (sink-window)', () => {
  it('keeps exactly the first `sinks` tokens and the newest `window`, step after step', () => {
    const kv = layout({ kvHeads: 1 });
    const router = createRouter('sink-window', { sinks: 2, window: 3 });
    let positions: number[][] = [[]];
    for (let token = 0; token < 12; token++) {
      positions = positions.map((list) => [...list, token]);
      const selection = router.select(routing(kv, positions[0]!.length, { step: token, positions }));
      positions = retain(positions, selection);
      const expected = token < 5 ? Array.from({ length: token + 1 }, (_, i) => i) : [0, 1, token - 2, token - 1, token];
      expect(positions[0]).toEqual(expected);
    }
    expect(router.positions).toBe('absolute');
    expect(createRouter('sink-window', { sinks: 2, window: 3, positions: 'cache' }).positions).toBe('cache');
  });
});

describe('H2O (heavy-hitter), 2 kv heads × 2 query heads each, budget 3 with 1 recent', () => {
  // Prefill of 4 tokens: per query head a causal [4 queries, 4 keys] attention matrix.
  const h0 = [1, 0, 0, 0, 0.5, 0.5, 0, 0, 0.125, 0.125, 0.75, 0, 0.25, 0.25, 0.125, 0.375];
  const h2 = [1, 0, 0, 0, 0.25, 0.75, 0, 0, 0.25, 0.25, 0.5, 0, 0.25, 0.25, 0.25, 0.25];
  const h3 = [1, 0, 0, 0, 0.5, 0.5, 0, 0, 0.125, 0.125, 0.75, 0, 0.125, 0.125, 0.625, 0.125];
  const kv = layout({ kvHeads: 2, attentions: true });
  const scoresOf = (router: HeavyHitterRouter): number[][] => (router as unknown as { scores: AttentionScores }).scores.scores.map((s) => [...s]);

  it('keeps per head the heaviest older slots (ties: the older) and carries each head\'s scores through its own eviction', () => {
    const router = createRouter('heavy-hitter', { budget: 3, recent: 1 }) as HeavyHitterRouter;
    router.observe(observation(kv, { outputs: { 'attentions.0': tensor([...h0, ...h0, ...h2, ...h3], [1, 4, 4, 4]) }, inputIds: [[1, 2, 3, 4]] }));
    // Column sums: query heads 0 + 1 (kv head 0): 2 × [1.875, 0.875, 0.875, 0.375];
    // query heads 2 + 3 (kv head 1): [1.75, 1.25, 0.75, 0.25] + [1.75, 0.75, 1.375, 0.125].
    expect(scoresOf(router)).toEqual([
      [3.75, 1.75, 1.75, 0.75],
      [3.5, 2, 2.125, 0.375],
    ]);
    let positions = [
      [0, 1, 2, 3],
      [0, 1, 2, 3],
    ];
    // kv head 0: slot 0, then slots 1 and 2 tie at 1.75 and the older (1) wins; kv head 1: slots 0 and 2.
    let selection = router.select(routing(kv, 4, { positions }));
    expect(selection).toEqual({ kind: 'per-head', slots: [[0, 1, 3], [0, 2, 3]] });
    positions = retain(positions, selection);
    expect(scoresOf(router)).toEqual([
      [3.75, 1.75, 0.75],
      [3.5, 2.125, 0.375],
    ]);

    // One decode step (position 4): each head's attention over its own 3 kept slots + the new one.
    const step = tensor([0.25, 0, 0.5, 0.25, /* head 1 */ 0, 0, 0.75, 0.25, /* head 2 */ 0.5, 0, 0.5, 0, /* head 3 */ 0, 0.25, 0.5, 0.25], [1, 4, 1, 4]);
    router.observe(observation(kv, { step: 1, outputs: { 'attentions.0': step } }));
    positions = positions.map((list) => [...list, 4]);
    // kv head 0 over positions [0, 1, 3, 4]: + [0.25, 0, 1.25, 0.5]; kv head 1 over [0, 2, 3, 4]: + [0.5, 0.25, 1, 0.25].
    expect(scoresOf(router)).toEqual([
      [4, 1.75, 2, 0.5],
      [4, 2.375, 1.375, 0.25],
    ]);
    // kv head 0 now drops position 1 (its score 1.75 < 2 of position 3); kv head 1 drops position 3.
    selection = router.select(routing(kv, 4, { step: 1, positions }));
    expect(selection).toEqual({ kind: 'per-head', slots: [[0, 2, 3], [0, 1, 3]] });
    positions = retain(positions, selection);
    expect(positions).toEqual([
      [0, 3, 4],
      [0, 2, 4],
    ]);
    expect(scoresOf(router)).toEqual([
      [4, 2, 0.5],
      [4, 2.375, 0.25],
    ]);
  });
});

describe('positions=cache on rotary models whose rotation core does not reproduce', () => {
  const kv = layout({ kvHeads: 1, headDim: 16 });
  const base = { hidden_size: 64, num_attention_heads: 4, num_hidden_layers: 1, vocab_size: 10 };

  it('is refused rather than run with every cached key at its old rotation', () => {
    const configs = [
      // Interleaved pairs (2i, 2i + 1), not rotate-half.
      { model_type: 'gptj', n_embd: 64, n_head: 4, n_layer: 1, vocab_size: 10, rotary_dim: 8 },
      { model_type: 'codegen', n_embd: 64, n_head: 4, n_layer: 1, vocab_size: 10, rotary_dim: 8 },
      // Rotate-half, but core does not read their rotary settings.
      { ...base, model_type: 'gpt_neox', rotary_pct: 0.25 },
      { ...base, model_type: 'phi', partial_rotary_factor: 0.5 },
      { ...base, model_type: 'falcon', alibi: false },
    ];
    for (const raw of configs) {
      const config = parseModelConfig(raw, 'config.json');
      expect(() => cacheKeyRerotation('cache', kv, config, 1), raw.model_type).toThrow(InvalidOptionsError);
      expect(() => cacheKeyRerotation('cache', kv, config, 1), raw.model_type).toThrow(new RegExp(`${raw.model_type}.*positions=absolute`));
      expect(cacheKeyRerotation('absolute', kv, config, 1)).toBeUndefined();
    }
  });

  it('still runs models whose keys carry no rotation (ALiBi Falcon, GPT-2) and re-rotates Llama', () => {
    expect(cacheKeyRerotation('cache', kv, parseModelConfig({ ...base, model_type: 'falcon', alibi: true }, 'c'), 1)).toBeUndefined();
    expect(cacheKeyRerotation('cache', kv, parseModelConfig({ model_type: 'gpt2', n_embd: 64, n_head: 4, n_layer: 1, vocab_size: 10 }, 'c'), 1)).toBeUndefined();
    expect(cacheKeyRerotation('cache', kv, parseModelConfig({ ...base, model_type: 'llama' }, 'c'), 1)).toBeDefined();
  });
});
