import { describe, expect, it } from 'vitest';
import { validateNpuOptions } from '../src/index.js';
import { invalidOptions } from './helpers.js';

/** Holes in the npu backend's provider lists get the same message as in core's and the web backend's. */
describe('holes in the npu backend’s provider lists', () => {
  it('say where the hole is and how to remove it', () => {
    // eslint-disable-next-line no-sparse-arrays
    const error = invalidOptions(() => validateNpuOptions({ providers: ['qnn', , 'cpu'] } as never));
    expect(error.option).toBe('providers[1]');
    expect(error.message).toBe("providers[1] is missing: the list has a hole or undefined there (as in [, 'qnn']); remove the extra comma.");
    // eslint-disable-next-line no-sparse-arrays
    expect(invalidOptions(() => validateNpuOptions({ defaults: { executionProviders: [, 'qnn'] } } as never)).message).toMatch(/^defaults\.executionProviders\[0\] is missing: the list has a hole or undefined there/);
  });
});
