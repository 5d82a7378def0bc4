import { describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '../src/index.js';
import { breakableFirstAndSecond, fixture, runtime } from './helpers.js';

describe('failover.backends names each fallback once, and not the backend the model loads on', () => {
  it('refuses a backend listed twice (it would get a second session and a breaker no run reports to)', async () => {
    const weft = runtime(breakableFirstAndSecond().plugins);
    try {
      const error = await weft.load(fixture('tiny'), { backend: 'first', failover: { backends: ['second', 'second'] } }).catch((e: unknown) => e);
      expect(InvalidOptionsError.isInstance(error)).toBe(true);
      expect((error as InvalidOptionsError).option).toBe('failover.backends');
      expect((error as Error).message).toMatch(/failover\.backends lists "second" twice/);
    } finally {
      await weft.dispose();
    }
  });

  it('says that the backend the model loads on is not a fallback, instead of "not available here"', async () => {
    const weft = runtime(breakableFirstAndSecond().plugins);
    try {
      const error = await weft.load(fixture('tiny'), { backend: 'first', failover: { backends: ['first', 'second'] } }).catch((e: unknown) => e);
      expect(InvalidOptionsError.isInstance(error)).toBe(true);
      expect((error as InvalidOptionsError).option).toBe('failover.backends');
      // Before: 'Failover backend "first" is not available here (available: second, node)', although it was loaded.
      expect((error as Error).message).toMatch(/"first" is the backend this model loads on/);
      // The loads above released their sessions: a good list still loads.
      const model = await weft.load(fixture('tiny'), { backend: 'first', failover: { backends: ['second'] } });
      expect(model.backend).toBe('first');
    } finally {
      await weft.dispose();
    }
  });
});
