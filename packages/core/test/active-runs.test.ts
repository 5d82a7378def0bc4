/** `model.activeRuns`: generations and evaluations running now, for health checks and shutdown. */
import { afterAll, describe, expect, it } from 'vitest';
import type { GenerationEvent, WeftModel } from '../src/index.js';
import { fixture, runtime } from './helpers.js';

const weft = runtime();
afterAll(() => weft.dispose());

/** Resolves once `model.activeRuns` is `n`, polling across event-loop turns (at most ~2 s). */
async function settlesAt(model: WeftModel, n: number): Promise<void> {
  for (let i = 0; i < 2000 && model.activeRuns !== n; i++) await new Promise((resolve) => setTimeout(resolve, 1));
  expect(model.activeRuns).toBe(n);
}

describe('model.activeRuns', () => {
  it('counts each subscription from its start to its end, overlapping runs included', async () => {
    const model = await weft.load(fixture('tiny'));
    expect(model.activeRuns).toBe(0);
    const seenAtStart: number[] = [];
    const run = (): Promise<void> =>
      new Promise((resolve, reject) =>
        model.generate({ prompt: 'Once upon a time', maxTokens: 6 }).subscribe({
          next: (e: GenerationEvent) => void (e.type === 'start' && seenAtStart.push(model.activeRuns)),
          complete: resolve,
          error: reject,
        }),
      );
    const both = Promise.all([run(), run()]);
    // Both subscriptions are counted as soon as they are made.
    expect(model.activeRuns).toBe(2);
    await both;
    expect(seenAtStart.every((n) => n >= 1)).toBe(true);
    expect(model.activeRuns).toBe(0);
    // text() and stream() are runs too.
    const text = model.text({ prompt: 'Once', maxTokens: 3 });
    expect(model.activeRuns).toBe(1);
    await text;
    expect(model.activeRuns).toBe(0);
    await model.dispose();
  });

  it('an unsubscribed run counts until its forward pass settles; a refused request and an aborted one return to 0', async () => {
    const model = await weft.load(fixture('tiny'));
    let rightAfter: number | undefined;
    const subscription = model.generate({ prompt: 'Once upon a time', maxTokens: 50 }).subscribe({
      next: (e: GenerationEvent) => {
        if (e.type !== 'token' || e.index !== 1) return;
        subscription.unsubscribe();
        rightAfter = model.activeRuns;
      },
    });
    await settlesAt(model, 0);
    // Still counted right after the unsubscribe: the step it was in had not ended.
    expect(rightAfter).toBe(1);
    await expect(model.text({ prompt: 'Hi', temperature: -1 })).rejects.toThrow(/temperature/);
    expect(model.activeRuns).toBe(0);
    const controller = new AbortController();
    const aborted = model.text({ prompt: 'Once', maxTokens: 50, signal: controller.signal });
    controller.abort();
    await aborted;
    // The stream ends at once; the run counts until the forward pass it had sent settles.
    await settlesAt(model, 0);
    await model.dispose();
    // A run refused because the model is disposed is never counted.
    await expect(model.text({ prompt: 'Hi' })).rejects.toThrow();
    expect(model.activeRuns).toBe(0);
  });

  it('counts evaluate() calls, failed ones too, until they settle', async () => {
    const model = await weft.load(fixture('tiny'));
    const ids = model.tokenizer.encode('Once upon a time there was a cat');
    const evaluation = model.evaluate({ inputIds: ids });
    expect(model.activeRuns).toBe(1);
    await evaluation;
    expect(model.activeRuns).toBe(0);
    await expect(model.evaluate({ inputIds: [1] })).rejects.toThrow();
    expect(model.activeRuns).toBe(0);
    await model.dispose();
  });
});
