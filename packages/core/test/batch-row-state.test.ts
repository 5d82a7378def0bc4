import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Analyzer, AttentionRouter, ForwardObservation, GenerationEvent, RoutingContext, WeftModel } from '../src/index.js';
import { collect, done, runtime, storyModel } from './helpers.js';

/** What one step showed an analyzer and the router (the arrays as handed over, not copies). */
interface Seen {
  readonly step: number;
  readonly inputIds: readonly (readonly number[])[];
  readonly padding: readonly number[] | undefined;
  readonly active: readonly boolean[] | undefined;
}

function recorders(): { analyzer: Analyzer; router: AttentionRouter; observed: Seen[]; routed: RoutingContext[] } {
  const observed: Seen[] = [];
  const routed: RoutingContext[] = [];
  const record = (o: ForwardObservation): undefined => {
    observed.push({ step: o.step, inputIds: o.inputIds.map((ids) => ids.slice()), padding: o.padding, active: o.active });
    return undefined;
  };
  return {
    analyzer: { name: 'row-state', observe: record },
    router: { specificationVersion: 'v1', name: 'row-state', select: (context) => void routed.push(context) },
    observed,
    routed,
  };
}

describe('padding and active rows in observations and routing contexts (models/story)', () => {
  const weft = runtime();
  let model: WeftModel;
  beforeAll(async () => {
    model = await weft.load(storyModel);
  });
  afterAll(() => weft.dispose());

  it('marks a padded row inactive from the step after a stop string ended it', async () => {
    // Greedy, row 0 (the shorter prompt, so left-padded) writes "… Fern found a bell …" within a
    // few tokens and stops there; row 1 never writes it and runs to maxTokens.
    const prompts = ['Tom had a red ball.', 'Once upon a time, there was a little girl named Lily. She'];
    const { analyzer, router, observed, routed } = recorders();
    const events = await collect(model.generate({ prompt: prompts, maxTokens: 20, stop: ['Fern found'], analyzers: [analyzer], router }));
    const start = events[0]!;
    if (start.type !== 'start') throw new Error('expected a start event');
    const result = done(events);
    expect(result.rows.map((r) => r.finishReason)).toEqual(['stop', 'length']);
    const longest = Math.max(...start.promptIds.map((p) => p.length));
    const pads = start.promptIds.map((p) => longest - p.length);
    expect(pads[0]).toBeGreaterThan(0);
    expect(pads[1]).toBe(0);
    // Row 0's last token came at step ids.length - 1 (one token per step); from the next step on
    // it is fed the pad id.
    const lastStep = result.rows[0]!.ids.length - 1;
    expect(lastStep).toBeGreaterThan(0);
    expect(lastStep).toBeLessThan(19);
    expect(observed).toHaveLength(20);
    const tokens = events.filter((e): e is Extract<GenerationEvent, { type: 'token' }> => e.type === 'token');
    for (const seen of observed) {
      expect(seen.padding).toEqual(pads);
      expect(seen.active).toEqual([seen.step <= lastStep, true]);
      expect(Object.isFrozen(seen.active)).toBe(true);
      expect(Object.isFrozen(seen.padding)).toBe(true);
      // What `active` says matches what row 0 was fed: its previous token, or the pad id (0).
      if (seen.step > 0) {
        const previous = tokens.find((t) => t.row === 0 && t.index === seen.step - 1);
        expect(seen.inputIds[0]).toEqual([seen.active![0] ? previous!.id : 0]);
      } else {
        expect(seen.inputIds[0]!.slice(0, pads[0]!)).toEqual(new Array(pads[0]).fill(0));
      }
    }
    // One array per state, handed out unchanged: what the first step saw still says all active.
    const distinct = new Set(observed.map((s) => s.active));
    expect(distinct.size).toBe(2);
    expect(observed[0]!.active).toEqual([true, true]);
    // The router sees the very arrays of the step's observation.
    expect(routed).toHaveLength(20);
    for (const [i, context] of routed.entries()) {
      expect(context.step).toBe(i);
      expect(context.padding).toBe(observed[i]!.padding);
      expect(context.active).toBe(observed[i]!.active);
    }
  });

  it('gives a batch without padding zeros and every row active until it ends', async () => {
    const { analyzer, observed } = recorders();
    const result = done(await collect(model.generate({ prompt: ['One day', 'One day'], maxTokens: 4, analyzers: [analyzer] })));
    expect(result.rows.map((r) => r.finishReason)).toEqual(['length', 'length']);
    expect(observed.map((s) => s.padding)).toEqual(new Array(4).fill([0, 0]));
    expect(observed.map((s) => s.active)).toEqual(new Array(4).fill([true, true]));
  });

  it("gives evaluate's router one unpadded, active row", async () => {
    const { router, routed } = recorders();
    const observedByRouter: Seen[] = [];
    const observing: AttentionRouter = { ...router, observe: (o) => void observedByRouter.push({ step: o.step, inputIds: o.inputIds, padding: o.padding, active: o.active }) };
    await model.evaluate({ inputIds: model.tokenizer.encode('Tom had a red ball. He liked it.'), prefillTokens: 3, router: observing });
    expect(routed.length).toBeGreaterThan(2);
    for (const seen of [...routed, ...observedByRouter]) {
      expect(seen.padding).toEqual([0]);
      expect(seen.active).toEqual([true]);
    }
    expect(observedByRouter).toHaveLength(routed.length);
  });
});
