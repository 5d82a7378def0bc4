import { describe, expect, it } from 'vitest';
import { kvQuant } from '../src/index.js';
import { invalidOptionsThrown as thrown } from '../../../core/test/hostile-options.js';


/**
 * kvQuant's refusals describe the value given: NaN and Infinity were shown as "got null" (their
 * JSON), and a missing options object as "bits … (got undefined)".
 */
describe('kvQuant error messages', () => {
  it('show NaN and Infinity as they are', () => {
    expect(thrown(() => kvQuant({ bits: Number.NaN } as never)).message).toBe('kvQuant: bits must be 8, 4 or 2 (got NaN).');
    expect(thrown(() => kvQuant({ bits: Number.POSITIVE_INFINITY } as never)).message).toBe('kvQuant: bits must be 8, 4 or 2 (got Infinity).');
    expect(thrown(() => kvQuant({ bits: 4.5 } as never)).message).toBe('kvQuant: bits must be 8, 4 or 2 (got 4.5).');
    expect(thrown(() => kvQuant({ bits: 4n } as never)).message).toBe('kvQuant: bits must be 8, 4 or 2 (got 4n).');
  });

  it('say what the factory takes when it is given no options object', () => {
    for (const [value, got] of [[null, 'null'], [undefined, 'undefined'], [4, '4'], [[4], 'an array']] as const) {
      const error = thrown(() => kvQuant(value as never));
      expect(error.option).toBe('options');
      expect(error.message).toBe(`kvQuant takes an options object { bits: 8, 4 or 2, ...store options } such as { bits: 4 } (got ${got}).`);
    }
  });
});
