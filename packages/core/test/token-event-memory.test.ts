import { afterAll, describe, expect, it } from 'vitest';
import type { TokenEvent } from '../src/index.js';
import { collect, exposedGc, runtime, storyModel, wrappedNodeBackend } from './helpers.js';

/**
 * What a kept token event keeps alive: users collect events (`toArray`, logs), so an event must
 * not hold its step's whole logits output (every prompt position at the first step).
 */
describe('memory a kept token event holds', () => {
  const gc = exposedGc();
  const collected = new Set<number>();
  const registry = new FinalizationRegistry<number>((run) => void collected.add(run));
  let runs = 0;
  const weft = runtime([
    wrappedNodeBackend({
      name: 'watched',
      priority: 1000,
      // Each run's logits buffer, numbered from 0.
      afterRun: (outputs) => registry.register((outputs['logits']!.data as Float32Array).buffer, runs++),
    }),
  ]);
  afterAll(() => weft.dispose());

  /** Whether the logits buffer of run `run` is collected within a few collections. */
  const freed = async (run: number): Promise<boolean> => {
    for (let i = 0; i < 30 && !collected.has(run); i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    return collected.has(run);
  };

  it('the first token event keeps its row, not the prompt\'s logits at every position; a read logprob keeps nothing', async () => {
    const model = await weft.load(storyModel, { backend: 'watched' });
    const first = runs;
    const events = await collect(model.generate({ prompt: 'Once upon a time, there was a little girl named Lily who loved to play', maxTokens: 3, ignoreEos: true }));
    const tokens = events.filter((e): e is TokenEvent => e.type === 'token');
    expect(tokens).toHaveLength(3);
    expect(runs - first).toBe(3);
    // The prefill's output ([1, prompt length, vocabulary]) is not the first event's to keep.
    expect(await freed(first)).toBe(true);
    // A decode step's output is its row: the event holds it until its logprob is read.
    expect(await freed(first + 1)).toBe(false);
    const logprob = tokens[1]!.logprob;
    expect(logprob).toBeLessThanOrEqual(0);
    expect(await freed(first + 1)).toBe(true);
    // The value stays, read again.
    expect(tokens[1]!.logprob).toBe(logprob);
    expect(tokens[0]!.logprob).toBeLessThanOrEqual(0);
    await model.dispose();
  });

  it('in a batch, a row\'s events keep their own row, not every row\'s logits', async () => {
    const model = await weft.load(storyModel, { backend: 'watched' });
    const first = runs;
    const events = await collect(model.generate({ prompt: ['Once upon a time', 'Tom and his dog'], maxTokens: 3, ignoreEos: true }));
    // Only row 0's events are kept.
    const row0 = events.filter((e): e is TokenEvent => e.type === 'token' && e.row === 0);
    events.length = 0;
    expect(row0).toHaveLength(3);
    expect(runs - first).toBe(3);
    // Each decode step's output holds both rows: row 0's events hold copies of theirs.
    for (const run of [first, first + 1, first + 2]) expect(await freed(run), `run ${run - first}`).toBe(true);
    expect(row0.every((e) => e.logprob <= 0)).toBe(true);
    await model.dispose();
  });
});
