import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Analyzer, GenerationEvent, Sampler, WeftModel } from '@weft/core';
import {
  AttentionImportanceAnalyzer,
  accumulateAttention,
  createRouter,
  repetitionRate,
  type AttentionScores,
  type ContentAwareRouter,
  type HeavyHitterRouter,
  type RouterDecision,
} from '../src/index.js';
import { ATTENTIONS_GRAPH, collect, done, runtime, storyModel } from './helpers.js';
import { layout, observation, routing, slotsOf, tensor } from './synthetic.js';

const argmax = (logits: Float32Array): number => {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
};
const round = (values: ArrayLike<number>): number[] => Array.from(values, (v) => +v.toFixed(6));
const scoresOf = (router: HeavyHitterRouter): Float64Array[] => (router as unknown as { scores: AttentionScores }).scores.scores;

describe('padding and finished rows (synthetic)', () => {
  const att = layout({ attentions: true, kvHeads: 1 });
  // Prefill of a 2-row batch, 1 head, 2 slots. Row 0 is left-padded by one: its query 0 is the pad's.
  const prefill = tensor([1, 0, 0, 1, /* row 1 */ 1, 0, 0.6, 0.4], [2, 1, 2, 2]);
  // Next step: row 1 has finished and is fed the pad id; its query still attends (to slot 0).
  const decode = tensor([0, 0.3, 0.7, /* row 1 */ 0.9, 0.05, 0.05], [2, 1, 1, 3]);

  it("heavy-hitter leaves out a row's padding queries and the rows that finished", () => {
    const router = createRouter('heavy-hitter', { budget: 2, recent: 1 }) as HeavyHitterRouter;
    router.observe(observation(att, { batchSize: 2, inputIds: [[0, 7], [5, 6]], outputs: { 'attentions.0': prefill }, padding: [1, 0], active: [true, true] }));
    expect(scoresOf(router).map(round)).toEqual([[1.6, 1.4]]);
    router.select(routing(att, 2, { batchSize: 2, padding: [1, 0], active: [true, true] }));
    router.observe(observation(att, { step: 1, batchSize: 2, inputIds: [[8], [0]], outputs: { 'attentions.0': decode }, padding: [1, 0], active: [true, false] }));
    expect(scoresOf(router).map(round)).toEqual([[1.6, 1.7, 0.7]]);
    // Slot 1 outweighs slot 0 once row 1's pad query is left out (with it: 3.5 against 1.75).
    expect(router.select(routing(att, 3, { step: 1, batchSize: 2, padding: [1, 0], active: [true, false] }))).toEqual({ kind: 'shared', slots: [1, 2] });
  });

  it('heavy-hitter counts every row and query when the observation says nothing of them (as before)', () => {
    const router = createRouter('heavy-hitter', { budget: 2, recent: 1 }) as HeavyHitterRouter;
    router.observe(observation(att, { batchSize: 2, inputIds: [[0, 7], [5, 6]], outputs: { 'attentions.0': prefill } }));
    router.select(routing(att, 2, { batchSize: 2 }));
    router.observe(observation(att, { step: 1, batchSize: 2, inputIds: [[8], [0]], outputs: { 'attentions.0': decode } }));
    expect(scoresOf(router).map(round)).toEqual([[3.5, 1.75, 0.75]]);
    expect(router.select(routing(att, 3, { step: 1, batchSize: 2 }))).toEqual({ kind: 'shared', slots: [0, 2] });
  });

  it('accumulateAttention skips padding queries only in a step fed from position 0', () => {
    // Not from position 0 (2 slots cached before the one query): nothing of row 0 is padding.
    const into = [new Float64Array(3)];
    accumulateAttention(into, Float32Array.from([0.5, 0.25, 0.25, 1, 1, 1]), [2, 1, 1, 3], undefined, { padding: [2, 0], active: [true, false] });
    expect(Array.from(into[0]!)).toEqual([0.5, 0.25, 0.25]);
  });

  it('key-norm averages norms over active rows, without the slots that are a row\'s padding', () => {
    const kv = layout({ kvHeads: 1 });
    // Keys [2 rows, 1 kv head, 3 slots, dim 2] with norms row 0: 10, 8, 3 (slot 0 is its padding); row 1: 2, 4, 3.
    const keys = tensor([6, 8, 0, 8, 3, 0, /* row 1 */ 2, 0, 0, 4, 0, 3], [2, 1, 3, 2]);
    const pick = (active: boolean[] | undefined, padding: number[] | undefined) => {
      const router = createRouter('key-norm', { budget: 2, recent: 1 });
      router.observe!(observation(kv, { batchSize: 2, inputIds: [[0, 1, 2], [3, 4, 5]], outputs: { 'present.0.key': keys }, ...(padding ? { padding } : {}), ...(active ? { active } : {}) }));
      return slotsOf(router.select(routing(kv, 3, { batchSize: 2, ...(padding ? { padding } : {}), ...(active ? { active } : {}) })));
    };
    // Both rows: slot 0 is row 1's alone (2) against slot 1's mean (6): slot 0 stays.
    expect(pick([true, true], [1, 0])).toEqual([0, 2]);
    // Row 1 finished: slot 0 is nobody's (evicted first), slot 1 stays.
    expect(pick([true, false], [1, 0])).toEqual([1, 2]);
    // Without the fields, as before: sums over every row and slot (12 against 12: the older wins).
    expect(pick(undefined, undefined)).toEqual([0, 2]);
    // Only row 1 active and no padding: its own lowest-norm key (slot 0, norm 2), chosen per head
    // (an unpadded batch may be; one head here).
    expect(pick([false, true], [0, 0])).toEqual([[0, 2]]);
  });

  describe('per-head selections in a batch', () => {
    const kv = layout({ kvHeads: 2 });
    // Keys [2 rows, 2 kv heads, 3 slots, dim 1]; averaged over rows, head 0's norms are 2.5, 4.5, 0.5
    // and head 1's 4.5, 2.5, 0.5: with budget 2 and the newest slot kept, head 0 keeps slot 0 and
    // head 1 slot 1.
    const keys = tensor([2, 4, 0, 4, 2, 0, /* row 1 */ 3, 5, 1, 5, 3, 1], [2, 2, 3, 1]);
    const select = (router: string, padding: number[] | undefined) => {
      const r = createRouter(router, { budget: 2, recent: 1 });
      const extra = { batchSize: 2, ...(padding ? { padding, active: [true, true] } : {}) };
      r.observe!(observation(kv, { inputIds: [[0, 1, 2], [3, 4, 5]], outputs: { 'present.0.key': keys }, ...extra }));
      return r.select(routing(kv, 3, extra));
    };

    it('key-norm chooses per head for a batch without padding, from norms averaged over its rows', () => {
      expect(select('key-norm', [0, 0])).toEqual({ kind: 'per-head', slots: [[0, 2], [1, 2]] });
    });

    it('a padded batch, or a core that does not say whether rows are padded, gets one shared selection', () => {
      // Row 0 padded by one: slot 0 is row 1's alone (3 + 5 over both heads), slot 1 averages 7.
      expect(select('key-norm', [1, 0])).toEqual({ kind: 'shared', slots: [1, 2] });
      // Not said: every row counts; over both heads slots 0 and 1 tie at 7, and the older stays.
      expect(select('key-norm', undefined)).toEqual({ kind: 'shared', slots: [0, 2] });
    });
  });

  it('attention-importance leaves out the rows that finished', () => {
    const analyzer = new AttentionImportanceAnalyzer();
    analyzer.observe(observation(att, { batchSize: 2, inputIds: [[8], [0]], outputs: { 'attentions.0': decode }, active: [true, false] }));
    expect(round(analyzer.importance()!)).toEqual([0, 0.3, 0.7]);
  });

  it('content-aware measures repetition per active row, without the padding', () => {
    const kv = layout();
    const keys = (n: number) => tensor(new Array(2 * 2 * n * 2).fill(1), [2, 2, n, 2]);
    const router = createRouter('content-aware', { budget: 4, sinks: 1, entropy: 100, repetition: 0.3 }) as ContentAwareRouter;
    // Row 0: six pad ids (0) then 5, 6; row 1: eight distinct ids. Neither repeats.
    router.observe(observation(kv, { batchSize: 2, inputIds: [[0, 0, 0, 0, 0, 0, 5, 6], [1, 2, 3, 4, 5, 6, 7, 8]], logits: [[0, 0], [0, 0]], outputs: { 'present.0.key': keys(8) }, padding: [6, 0], active: [true, true] }));
    router.select(routing(kv, 8, { batchSize: 2, padding: [6, 0], active: [true, true] }));
    expect(router.lastDecision).toMatchObject({ reason: 'confident', signals: { repetition: 0 } });
    // Row 1 loops (1 2 3 1 2 3 …) while row 0 has finished and is fed the pad id: only row 1 counts.
    const loop = [1, 2, 3, 1, 2, 3, 1, 2, 3];
    for (const [i, id] of loop.entries()) {
      router.observe(observation(kv, { step: i + 1, batchSize: 2, inputIds: [[0], [id]], logits: [[0, 0], [0, 0]], outputs: { 'present.0.key': keys(5) }, padding: [6, 0], active: [false, true] }));
    }
    router.select(routing(kv, 5, { step: 9, batchSize: 2, padding: [6, 0], active: [false, true] }));
    const ids = [1, 2, 3, 4, 5, 6, 7, 8, ...loop];
    expect(router.lastDecision?.signals?.repetition).toBeCloseTo(repetitionRate(ids, 3), 12);
    expect(router.lastDecision).toMatchObject({ reason: 'repetition' });
  });
});

describe('padding and finished rows on models/story', () => {
  const weft = runtime();
  let model: WeftModel;
  let withAttentions: WeftModel;
  beforeAll(async () => {
    model = await weft.load(storyModel);
    withAttentions = await weft.load(storyModel, { onnxFile: ATTENTIONS_GRAPH });
  });
  afterAll(() => weft.dispose());

  // Greedy, row 0 (the shorter prompt, so left-padded) writes "… Fern found …" within a few
  // tokens and stops there; row 1 runs on to maxTokens, row 0 fed the pad id meanwhile.
  const prompts = ['Tom had a red ball.', 'Once upon a time, there was a little girl named Lily. She'];
  const request = { prompt: prompts, maxTokens: 24, stop: ['Fern found'] };

  /**
   * Each row's prompt ids, generated ids (one per step) and left padding, and the last step it
   * was fed real ids at: the step of its last token, or for EOS the step after (EOS is not fed).
   */
  function rowsOf(events: readonly GenerationEvent[], reasons: readonly string[]) {
    const start = events[0]!;
    if (start.type !== 'start') throw new Error('expected a start event');
    const result = done(events);
    expect(result.rows.map((r) => r.finishReason)).toEqual(reasons);
    const longest = Math.max(...start.promptIds.map((p) => p.length));
    const pads = start.promptIds.map((p) => longest - p.length);
    const lastStep = result.rows.map((r) => (r.finishReason === 'eos' ? r.ids.length : r.ids.length - 1));
    expect(pads[0]).toBeGreaterThan(0);
    expect(lastStep[0]).toBeLessThan(lastStep[1]!);
    return { prompts: start.promptIds, generated: result.rows.map((r) => r.ids), pads, lastStep };
  }

  it('content-aware measures repetition on the real ids of the rows still generating', async () => {
    // Never uncertain (entropy bar out of reach), so the reason is `repetition` or `confident`.
    const router = createRouter('content-aware', { budget: 8, entropy: 100, repetition: 0.2, repetitionWindow: 16 }) as ContentAwareRouter;
    const decisions: RouterDecision[] = [];
    router.onDecision((d) => decisions.push(d));
    // Evictions change the text, so row 0 ends by a forced EOS at step 5 rather than a stop string.
    const sampler: Sampler = {
      name: 'greedy-then-eos',
      sample: (logits, c) => (c.row === 0 && c.step === 5 ? 2 : argmax(logits)),
    };
    const rows = rowsOf(await collect(model.generate({ prompt: prompts, maxTokens: 24, sampler, router })), ['eos', 'length']);
    expect(decisions).toHaveLength(24);
    for (const d of decisions) {
      // After step t each row has read its prompt and its first t generated ids.
      const counted = [0, 1].filter((r) => d.step <= rows.lastStep[r]!);
      const rates = counted.map((r) => repetitionRate([...rows.prompts[r]!, ...rows.generated[r]!.slice(0, d.step)].slice(-16), 3));
      expect(d.signals!.repetition).toBeCloseTo(rates.reduce((a, b) => a + b, 0) / rates.length, 12);
    }
    // The prompts do not repeat: row 0's padding (a run of pad ids) no longer reads as a loop.
    expect(decisions[0]).toMatchObject({ reason: 'confident', signals: { repetition: 0 } });
    // Some decisions came after row 0 finished (when it is fed a run of pad ids).
    expect(decisions.some((d) => d.step > rows.lastStep[0]!)).toBe(true);
  });

  it.each([
    ['key-norm', false],
    ['heavy-hitter', true],
  ] as const)('%s selects per head in a batch without padding: two copies of a prompt get the tokens of the prompt alone', async (name, attentions) => {
    const on = attentions ? withAttentions : model;
    const run = async (prompt: string | string[]) => {
      const router = createRouter(name, { budget: 24 });
      const kinds = new Set<string>();
      router.onDecision!((d) => kinds.add(d.selection));
      const result = done(await collect(on.generate({ prompt, maxTokens: 40, router })));
      return { rows: result.rows.map((r) => r.ids), kinds: [...kinds].sort() };
    };
    const alone = await run(prompts[1]!);
    const batch = await run([prompts[1]!, prompts[1]!]);
    // Rows of one prompt score alike (sums or means over rows), so the batch keeps the slots, per
    // head, that the prompt alone keeps. A shared selection evicts other slots and changes the text.
    expect(alone.kinds).toEqual(['none', 'per-head']);
    expect(batch.kinds).toEqual(['none', 'per-head']);
    expect(batch.rows).toEqual([alone.rows[0], alone.rows[0]]);
  });

  it("heavy-hitter's scores take no attention from padding queries or finished rows", async () => {
    // A budget above the run's length: nothing is evicted, so the scores keep all the mass added.
    const router = createRouter('heavy-hitter', { budget: 1000 }) as HeavyHitterRouter;
    const mass: number[] = [];
    router.onDecision(() => mass.push(scoresOf(router).reduce((sum, head) => sum + head.reduce((a, b) => a + b, 0), 0)));
    let heads = 0;
    const shape: Analyzer = { name: 'heads', observe: (o) => void (heads = o.outputs[o.layout.attentionNames[0]!]!.dims[1]!) };
    const rows = rowsOf(await collect(withAttentions.generate({ ...request, router, analyzers: [shape] })), ['stop', 'length']);
    const layers = withAttentions.layout.attentionNames.length;
    expect(layers).toBeGreaterThan(0);
    expect(mass).toHaveLength(24);
    // Each counted query spreads a mass of 1 per layer and head over the slots it sees: the prefill
    // counts each row's real prompt tokens, every later step one query per row still generating.
    let queries = 0;
    for (const [step, total] of mass.entries()) {
      queries += step === 0 ? rows.prompts[0]!.length + rows.prompts[1]!.length : [0, 1].filter((r) => step <= rows.lastStep[r]!).length;
      expect(total).toBeCloseTo(layers * heads * queries, 2);
    }
  });
});
