/**
 * `model.evaluate()` gives up a forward pass the way generation does: aborting its signal or
 * disposing the model rejects at once, without waiting for a pass that hangs (before, the
 * evaluation awaited the backend's `run`, forever for a hung driver); the pass's outputs, feeds
 * and KV store are released once it settles, and the evaluation counts in `activeRuns` until then.
 * And logits of the wrong size fail it with a `BackendError`, where it scored them without a word.
 */
import { describe, expect, it } from 'vitest';
import { BackendError, ModelDisposedError, type BackendTensor, type WeftModel } from '../src/index.js';
import { fixture, wrappedNodeBackend } from './helpers.js';
import { expectHeldThenReleased, expectReleasedAfterPass, holdingBackend, leaked, runtimePerTest } from './session-lifecycle-backend.js';

const { load, runtime } = runtimePerTest();

const ids = (model: WeftModel): number[] => model.tokenizer.encode('Once upon a time there was a little dog who liked to run');

describe('evaluate while its forward pass hangs', () => {
  it('an aborted evaluation rejects at once with the signal\'s reason; the pass\'s tensors are released once it settles', async () => {
    const backend = holdingBackend('holding');
    const model = await load(backend);
    const inputIds = ids(model);
    const baseline = await model.evaluate({ inputIds, prefillTokens: 4 });
    backend.runs.close();
    const controller = new AbortController();
    const evaluation = model.evaluate({ inputIds, prefillTokens: 4, signal: controller.signal }).then(() => 'resolved', (e: unknown) => e);
    await backend.runs.reached();
    const reason = new Error('stop now');
    controller.abort(reason);
    // Before: the evaluation waited for the pass, which does not come until the gate opens.
    expect(await evaluation).toBe(reason);
    // The run got a signal that aborted with the request's, for a backend that can cancel.
    expect(backend.signals.at(-1)?.aborted).toBe(true);
    // Still counted and holding its feeds and cache: the pass has not settled.
    await expectHeldThenReleased(model, backend);
    // The model goes on evaluating, to the same result.
    expect((await model.evaluate({ inputIds, prefillTokens: 4 })).nll).toBeCloseTo(baseline.nll, 5);
  }, 20_000);

  it('a model disposed during the pass: the evaluation rejects with ModelDisposedError and dispose resolves; the session is freed once the pass settles', async () => {
    const backend = holdingBackend('holding');
    const model = await load(backend, { disposeTimeoutMs: 20 });
    const inputIds = ids(model);
    backend.runs.close();
    // No signal: the runs get the model's disposal signal.
    const evaluation = model.evaluate({ inputIds }).then(() => 'resolved', (e: unknown) => e);
    await backend.runs.reached();
    await model.dispose();
    const error = await evaluation;
    expect(ModelDisposedError.isInstance(error), String(error)).toBe(true);
    expect(backend.signals.at(-1)?.aborted).toBe(true);
    expect(model.activeRuns).toBe(1);
    await expectReleasedAfterPass(model, backend);
  }, 20_000);

  it('without a signal every run gets the one disposal signal (no controller per evaluation)', async () => {
    const backend = holdingBackend('holding');
    const model = await load(backend);
    const inputIds = ids(model).slice(0, 4);
    await model.evaluate({ inputIds });
    await model.evaluate({ inputIds, prefillTokens: 2 });
    const signals = new Set(backend.signals);
    expect(signals.size).toBe(1);
    expect([...signals][0]?.aborted).toBe(false);
    expect(model.activeRuns).toBe(0);
    expect(leaked(backend.live)).toEqual([]);
  }, 20_000);
});

/** onnxruntime-node under `odd`, its "logits" replaced by `logits(real)` after each run. */
function oddLogits(logits: (real: BackendTensor) => BackendTensor) {
  return wrappedNodeBackend({
    name: 'odd',
    priority: 2000,
    afterRun: (outputs) => {
      const all = outputs as Record<string, BackendTensor>;
      all['logits'] = logits(all['logits']!);
    },
  });
}

const tensor = (dims: number[]): BackendTensor => ({ type: 'float32', dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)), dispose() {} });

describe('evaluate with logits of the wrong size', () => {
  it('another vocabulary size fails with a BackendError naming the shape (before: scored the first 1024 values)', async () => {
    const weft = runtime([oddLogits((real) => tensor([real.dims[0]!, real.dims[1]!, 2048]))]);
    const model = await weft.load(fixture('tiny'), { backend: 'odd' });
    const error = await model.evaluate({ inputIds: ids(model) }).then(() => 'resolved', (e: unknown) => e);
    expect(BackendError.isInstance(error), String(error)).toBe(true);
    expect((error as BackendError).backend).toBe('odd');
    expect((error as Error).message).toMatch(/"logits" of shape \[1, 1, 2048\] .*expects \[1, 1, 1024\]/);
    expect(model.activeRuns).toBe(0);
  }, 20_000);

  it('a prefill whose logits hold fewer positions than it scores fails (every fed position is scored)', async () => {
    const weft = runtime([oddLogits((real) => tensor([1, 1, real.dims[2]!]))]);
    const model = await weft.load(fixture('tiny'), { backend: 'odd' });
    const error = await model.evaluate({ inputIds: ids(model), prefillTokens: 4 }).then(() => 'resolved', (e: unknown) => e);
    expect(BackendError.isInstance(error), String(error)).toBe(true);
    expect((error as Error).message).toMatch(/"logits" of shape \[1, 1, 1024\] .*expects \[1, 4, 1024\]/);
  }, 20_000);

  it('graphs that keep fewer logits or recompute the whole prefix still evaluate', async () => {
    const weft = runtime();
    for (const name of ['tiny-logits-to-keep', 'tiny-no-past', 'tiny']) {
      const model = await weft.load(fixture(name));
      const result = await model.evaluate({ inputIds: ids(model), prefillTokens: 3 });
      expect(Number.isFinite(result.perplexity), name).toBe(true);
    }
  }, 30_000);
});
