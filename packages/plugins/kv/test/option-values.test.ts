import { describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '@weft/core';
import { Int4KvStore, kvCompressors } from '../src/index.js';

describe('kv store option errors', () => {
  it.each([
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    [32n, '32n'],
  ])('show %s as it is, with an InvalidOptionsError (not a TypeError from JSON)', (group, shown) => {
    const make = () => new Int4KvStore({ group } as never);
    expect(make).toThrow(InvalidOptionsError);
    expect(make).toThrow(`Bad value ${shown} for "group" of the kv store "int4"`);
  });
});

describe('kvCompressors options', () => {
  it('refuses a misspelled option instead of ignoring it', () => {
    expect(() => kvCompressors({ prio: 1 } as never)).toThrow(InvalidOptionsError);
    expect(() => kvCompressors({ prio: 1 } as never)).toThrow(/kvCompressors has no option "prio" \(it takes priority\)/);
    expect(() => kvCompressors(null as never)).toThrow(/kvCompressors options must be an object/);
    expect(() => kvCompressors({ priority: 5 })).not.toThrow();
  });
});
