import { describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '@weft/core';
import { webBackend } from '../src/index.js';

/**
 * The web backend took `executionProviders: [, 'wasm']` as ['wasm'] (`map` skips holes) while core
 * and the other backends refused holes: a hole is refused here too, naming its index.
 */
describe('holes in the web backend’s provider lists', () => {
  it('are refused in executionProviders and in defaults.executionProviders', () => {
    // eslint-disable-next-line no-sparse-arrays
    const top = (): unknown => webBackend({ executionProviders: [, 'wasm'] as never });
    expect(top).toThrow(InvalidOptionsError);
    expect(top).toThrow(/^executionProviders\[0\] is missing: the list has a hole or undefined there \(as in \[, 'wasm'\]\); remove the extra comma\.$/);
    // eslint-disable-next-line no-sparse-arrays
    expect(() => webBackend({ defaults: { executionProviders: ['wasm', , ] as never } })).toThrow(/defaults\.executionProviders\[1\] is missing/);
  });

  it('describe any value in "got …" (a BigInt was a TypeError from JSON.stringify)', () => {
    expect(() => webBackend({ requireFullOffload: 1n as never })).toThrow(/^requireFullOffload must be a boolean; got 1n\.$/);
    expect(() => webBackend({ executionProviders: [{ name: 'webnn', deviceType: Number.NaN as never }] })).toThrow(/deviceType must be one of cpu, gpu, npu; got NaN\./);
  });
});
