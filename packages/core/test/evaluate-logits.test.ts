import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendError, type WeftModel } from '../src/index.js';
import { collect, runtime, storyModel, wrappedNodeBackend } from './helpers.js';

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

describe('token logprobs on logits that are not finite', () => {
  const fault = { write: (_logits: Float32Array): void => {} };
  const weft = runtime([
    wrappedNodeBackend({ name: 'faulty', priority: 1000, afterRun: (outputs) => fault.write(outputs['logits']!.data as Float32Array) }),
  ]);
  let model: WeftModel;
  beforeAll(async () => {
    model = await weft.load(storyModel);
  });
  afterAll(() => weft.dispose());

  const tokens = async (temperature: number) =>
    (await collect(model.generate({ prompt: 'Once upon a time', maxTokens: 4, temperature, seed: 5 }))).flatMap((e) => (e.type === 'token' ? [{ id: e.id, logprob: e.logprob }] : []));

  it('reads NaN logits as probability 0, as the picks do: the same ids and logprobs as -Infinity there', async () => {
    for (const temperature of [0, 0.8]) {
      fault.write = (logits) => {
        for (let i = 0; i < logits.length; i += 3) logits[i] = Number.NEGATIVE_INFINITY;
      };
      const masked = await tokens(temperature);
      fault.write = (logits) => {
        for (let i = 0; i < logits.length; i += 3) logits[i] = Number.NaN;
      };
      const nan = await tokens(temperature);
      expect(nan).toEqual(masked);
      for (const { logprob } of nan) expect(Number.isFinite(logprob) && logprob <= 0).toBe(true);
    }
  });

  it('gives +Infinity logits all the probability, shared: logprob 0 for one, -log 2 for each of two', async () => {
    const vocab = 1024;
    fault.write = (logits) => {
      for (let row = 0; row < logits.length; row += vocab) logits[row + 77] = Number.POSITIVE_INFINITY;
    };
    expect(await tokens(0)).toEqual(new Array(4).fill({ id: 77, logprob: 0 }));
    fault.write = (logits) => {
      for (let row = 0; row < logits.length; row += vocab) {
        logits[row + 77] = Number.POSITIVE_INFINITY;
        logits[row + 99] = Number.POSITIVE_INFINITY;
      }
    };
    for (const { id, logprob } of await tokens(0.8)) {
      expect([77, 99]).toContain(id);
      expect(logprob).toBeCloseTo(-Math.log(2), 12);
    }
  });
});
