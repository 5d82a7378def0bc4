/**
 * Logits of the wrong size count against the backend's circuit breaker. Before, the pool counted
 * the run a success (resetting the breaker) before the loop rejected its outputs, so a backend
 * returning bad logits on every run was tried first by every request and never skipped.
 */
import { describe, expect, it } from 'vitest';
import { type BackendTensor } from '../src/index.js';
import { collect, fixture, wrappedNodeBackend } from './helpers.js';
import { runtimePerTest } from './session-lifecycle-backend.js';

const { runtime } = runtimePerTest();

const tooFew: BackendTensor = { type: 'float32', dims: [1, 1, 10], data: new Float32Array(10), dispose() {} };

/**
 * `tiny` on `odd` (priority 2000), whose every run returns logits of the wrong size, failing over
 * to node with a breaker opening after 2 failures; `runs()` counts odd's runs.
 */
async function loadOdd() {
  let runs = 0;
  const odd = wrappedNodeBackend({
    name: 'odd',
    priority: 2000,
    afterRun: (outputs) => {
      runs++;
      (outputs as Record<string, BackendTensor>)['logits'] = tooFew;
    },
  });
  const model = await runtime([odd]).load(fixture('tiny'), { backend: 'odd', failover: { backends: ['node'], breaker: { failureThreshold: 2, cooldownMs: 60_000 } } });
  return { model, runs: () => runs };
}

describe('bad logits and the circuit breaker', () => {
  it('with failureThreshold 2, two requests fail over and the third goes straight to the fallback', async () => {
    const { model, runs } = await loadOdd();
    for (const request of [1, 2]) {
      const events = await collect(model.generate({ prompt: 'Once upon a time', maxTokens: 2 }));
      expect(events.find((e) => e.type === 'failover'), `request ${request}`).toMatchObject({ from: 'odd', to: 'node' });
      expect(events.at(-1)?.type).toBe('done');
    }
    expect(runs()).toBe(2);
    // The breaker is open: no run on odd, no failover.
    const events = await collect(model.generate({ prompt: 'Once upon a time', maxTokens: 2 }));
    expect(events[0]).toMatchObject({ type: 'start', backend: 'node' });
    expect(events.some((e) => e.type === 'failover')).toBe(false);
    expect(runs()).toBe(2);
    // Evaluate starts where generation does.
    await model.evaluate({ inputIds: model.tokenizer.encode('Once upon a time') });
    expect(runs()).toBe(2);
  }, 20_000);

  it('bad logits from evaluate count too', async () => {
    const { model, runs } = await loadOdd();
    const inputIds = model.tokenizer.encode('Once upon a time');
    for (let i = 0; i < 2; i++) await expect(model.evaluate({ inputIds })).rejects.toThrow(/"logits" of shape \[1, 1, 10\]/);
    expect(runs()).toBe(2);
    // Open now: evaluate runs on the fallback.
    const result = await model.evaluate({ inputIds });
    expect(Number.isFinite(result.perplexity)).toBe(true);
    expect(runs()).toBe(2);
  }, 20_000);
});
