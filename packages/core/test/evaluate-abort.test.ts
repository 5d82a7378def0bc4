import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionsError, type BackendTensor, type WeftModel } from '../src/index.js';
import { runtime, storyModel, wrappedNodeBackend } from './helpers.js';

/**
 * A backend over onnxruntime-node that keeps every tensor it hands out until disposed, counts
 * forward passes and calls `beforeRun` before each one.
 */
function instrumentedBackend() {
  const live = new Set<BackendTensor>();
  const state = { runs: 0, beforeRun: (_run: number): void => {} };
  const plugin = wrappedNodeBackend({
    name: 'instrumented',
    priority: 1000,
    liveTensors: live,
    beforeRun: () => state.beforeRun(++state.runs),
  });
  return { plugin, live, state };
}

describe('model.evaluate with an AbortSignal', () => {
  const backend = instrumentedBackend();
  const weft = runtime([backend.plugin]);
  let model: WeftModel;
  let inputIds: number[];
  beforeAll(async () => {
    model = await weft.load(storyModel);
    inputIds = model.tokenizer.encode('Once upon a time, there was a little girl named Lily. She liked to play in the park with her dog. '.repeat(4));
    expect(inputIds.length).toBeGreaterThan(60);
  });
  afterAll(() => weft.dispose());

  /** Tensors still alive, minus zero-length past tensors a session may keep for reuse. */
  const leaked = () => [...backend.live].filter((t) => !(t.data.length === 0 && t.dims[2] === 0));

  it('stops before the next forward pass, rejects with the abort reason and releases every tensor', async () => {
    const full = await model.evaluate({ inputIds });
    expect(leaked()).toEqual([]);

    const controller = new AbortController();
    backend.state.runs = 0;
    backend.state.beforeRun = (run) => {
      if (run === 5) controller.abort();
    };
    const started = performance.now();
    const error = await model.evaluate({ inputIds, signal: controller.signal }).catch((e: unknown) => e);
    backend.state.beforeRun = () => {};
    expect(error).toBeInstanceOf(DOMException);
    expect((error as DOMException).name).toBe('AbortError');
    // The fifth pass was already under way; no sixth one started (of the ~60 a full run makes).
    expect(backend.state.runs).toBe(5);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(leaked()).toEqual([]);

    // The model is unharmed: the same text scores the same.
    expect((await model.evaluate({ inputIds })).nll).toBeCloseTo(full.nll, 6);
  });

  it('rejects at once with a caller-given reason when the signal is already aborted', async () => {
    const reason = new Error('stop now');
    backend.state.runs = 0;
    await expect(model.evaluate({ inputIds, signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(backend.state.runs).toBe(0);
    expect(leaked()).toEqual([]);
  });

  it('rejects a signal that is not an AbortSignal', async () => {
    await expect(model.evaluate({ inputIds, signal: {} as AbortSignal })).rejects.toThrow(InvalidOptionsError);
  });
});
