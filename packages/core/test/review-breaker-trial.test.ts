import { afterEach, describe, expect, it, vi } from 'vitest';
import { InvalidOptionsError, type GenerationEvent, type GenerationRequest } from '../src/index.js';
import { breakableFirstAndSecond, collect, runtime, storyModel } from './helpers.js';

const startedOn = (events: readonly GenerationEvent[]): string => (events[0] as Extract<GenerationEvent, { type: 'start' }>).backend;

describe('a half-open backend and requests refused as invalid', () => {
  afterEach(() => void vi.restoreAllMocks());

  it('keeps the one trial for a stream that runs: a refused request does not take it', async () => {
    const backends = breakableFirstAndSecond();
    const weft = runtime(backends.plugins);
    try {
      const model = await weft.load(storyModel, { backend: 'first', failover: { backends: ['second'], breaker: { failureThreshold: 1, cooldownMs: 1000 } } });
      // The breakers read Date.now(): a clock of the test's own, so no cool-down is waited out
      // and none can pass by accident on a slow machine.
      let clock = 1_000_000;
      vi.spyOn(Date, 'now').mockImplementation(() => clock);
      backends.setBroken(true);
      const opening = await collect(model.generate({ prompt: 'Once', maxTokens: 2 }));
      expect(opening.filter((e) => e.type === 'failover')).toHaveLength(1);
      // The backend recovers and its breaker cools down: the next stream is its one trial.
      backends.setBroken(false);
      clock += 1000;
      // Requests refused for their own input, with failover on, before that stream.
      const refusedRequests: GenerationRequest[] = [{ prompt: 'Once', temperature: -1 }, { inputIds: [-1] }, { prompt: 'Once', maxTokens: 0.5 }];
      for (const request of refusedRequests) {
        const refused = await collect(model.generate(request)).catch((e: unknown) => e);
        expect(InvalidOptionsError.isInstance(refused)).toBe(true);
      }
      expect(startedOn(await collect(model.generate({ prompt: 'Once', maxTokens: 2 })))).toBe('first');
      // The trial succeeded and closed the breaker: streams start there again.
      expect(startedOn(await collect(model.generate({ prompt: 'Tom', maxTokens: 2 })))).toBe('first');
    } finally {
      await weft.dispose();
    }
  });
});
