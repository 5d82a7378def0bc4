import { afterEach, describe, expect, it } from 'vitest';
import { BackendError, type BackendTensor, type WeftPlugin } from '../src/index.js';
import { collect, fixture, runtime, wrappedNodeBackend } from './helpers.js';

/**
 * A backend whose logits do not hold rows × positions × vocab_size values fails the run with a
 * `BackendError` naming the shape it returned and the one expected. Before, the loop sliced rows
 * out of whatever came back and generated from them without a word.
 */

/** onnxruntime-node under `name`, its "logits" output replaced by `logits(real)` after each run. */
function badLogits(name: string, logits: (real: BackendTensor) => BackendTensor, priority = 2000): WeftPlugin {
  return wrappedNodeBackend({
    name,
    priority,
    afterRun: (outputs) => {
      const all = outputs as Record<string, BackendTensor>;
      all['logits'] = logits(all['logits']!);
    },
  });
}

const tensor = (dims: number[], length = dims.reduce((a, b) => a * b, 1)): BackendTensor => ({
  type: 'float32',
  dims,
  data: new Float32Array(length),
  dispose() {},
});

describe('logits of the wrong size', () => {
  let dispose: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await dispose?.();
    dispose = undefined;
  });

  const cases: [string, (real: BackendTensor) => BackendTensor, RegExp][] = [
    ['too few values for the vocabulary', () => tensor([1, 1, 10]), /shape \[1, 1, 10\] with 10 values, where this step expects \[1, 1 to \d+, 1024\]/],
    ['the right dims over too little data', (real) => tensor([...real.dims], 7), /with 7 values/],
    ['another vocabulary size', (real) => tensor([real.dims[0]!, real.dims[1]!, 1000]), /, 1000\] .*vocab_size 1024/],
    ['more rows than the batch', (real) => tensor([2, real.dims[1]!, 1024]), /shape \[2, /],
    ['a rank-2 tensor', (real) => tensor([real.dims[0]!, 1024]), /shape \[1, 1024\]/],
  ];
  for (const [what, logits, message] of cases) {
    it(`fails generation with a BackendError: ${what}`, async () => {
      const weft = runtime([badLogits('odd', logits)]);
      dispose = () => weft.dispose();
      const model = await weft.load(fixture('tiny'), { backend: 'odd' });
      const error = await model.text({ prompt: 'Once upon a time', maxTokens: 4 }).then(() => 'resolved', (e: unknown) => e);
      expect(BackendError.isInstance(error), String(error)).toBe(true);
      expect((error as BackendError).backend).toBe('odd');
      expect((error as Error).message).toMatch(message);
      expect(model.activeRuns).toBe(0);
    }, 10_000);
  }

  it('logits of the right size still generate, with logits_to_keep and a padded batch', async () => {
    const weft = runtime();
    dispose = () => weft.dispose();
    const kept = await weft.load(fixture('tiny-logits-to-keep'));
    const plain = await weft.load(fixture('tiny'));
    const batch = ['Once upon a time', 'Hi'];
    for (const model of [kept, plain]) {
      const events = await collect(model.generate({ prompt: batch, maxTokens: 3, ignoreEos: true }));
      expect(events.at(-1)?.type).toBe('done');
    }
  }, 20_000);

  it('fails over to a backend whose logits are right', async () => {
    const weft = runtime([badLogits('odd', () => tensor([1, 1, 10]))]);
    dispose = () => weft.dispose();
    const model = await weft.load(fixture('tiny'), { backend: 'odd', failover: true });
    const events = await collect(model.generate({ prompt: 'Once upon a time', maxTokens: 3 }));
    expect(events.find((e) => e.type === 'failover')).toMatchObject({ from: 'odd', to: 'node', reason: expect.stringContaining('"logits" of shape [1, 1, 10]') });
    expect(events.at(-1)?.type).toBe('done');
  }, 20_000);
});
