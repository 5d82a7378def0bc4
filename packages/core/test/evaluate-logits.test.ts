import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendError, type WeftModel } from '../src/index.js';
import { runtime, storyModel, wrappedNodeBackend } from './helpers.js';

/**
 * Perplexity when the model's logits are not numbers: real onnxruntime outputs with a fault
 * written into them after the run (what a broken graph or backend returns).
 */
describe('model.evaluate on logits that are not finite', () => {
  const fault = { write: (_logits: Float32Array): void => {} };
  const weft = runtime([
    wrappedNodeBackend({ name: 'faulty', priority: 1000, afterRun: (outputs) => fault.write(outputs['logits']!.data as Float32Array) }),
  ]);
  let model: WeftModel;
  let inputIds: number[];
  beforeAll(async () => {
    model = await weft.load(storyModel);
    inputIds = model.tokenizer.encode('Once upon a time, there was a little girl named Lily.');
  });
  afterAll(() => weft.dispose());

  it('rejects NaN logits with a BackendError instead of reporting a NaN perplexity', async () => {
    fault.write = (logits) => logits.fill(Number.NaN);
    const error = await model.evaluate({ inputIds }).catch((e: unknown) => e);
    expect(BackendError.isInstance(error)).toBe(true);
    expect((error as BackendError).backend).toBe('faulty');
    expect((error as Error).message).toMatch(/logits predicting token 1 are not finite .* perplexity is undefined/);
  });

  it('rejects when the token being scored has a +Infinity logit (an undefined loss)', async () => {
    fault.write = (logits) => logits.fill(Number.POSITIVE_INFINITY);
    await expect(model.evaluate({ inputIds })).rejects.toThrow(/not finite/);
  });

  it('scores an -Infinity logit on the target as an infinite loss, and finite logits as before', async () => {
    fault.write = () => {};
    const clean = await model.evaluate({ inputIds });
    expect(Number.isFinite(clean.perplexity)).toBe(true);
    const target = inputIds[1]!;
    fault.write = (logits) => {
      logits[target] = Number.NEGATIVE_INFINITY; // the prefill's only scored row predicts inputIds[1]
    };
    const masked = await model.evaluate({ inputIds });
    expect(masked.perplexity).toBe(Number.POSITIVE_INFINITY);
  });
});
