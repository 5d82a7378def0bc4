import { describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '@weft/core';
import { Int4KvStore, kvCompressors, kvQuant, TemporalKvStore } from '../src/index.js';

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

describe('integer options given as decimal strings (as routers take them)', () => {
  it('are read as numbers; other strings are refused', () => {
    const store = new Int4KvStore({ group: '16' } as never);
    expect(store.options.group).toBe(16);
    expect(new Int4KvStore({ group: ' 64 ' } as never).options.group).toBe(64);
    for (const group of ['0x10', '16.0', '1e2', '', 'sixteen', '99999999999999999999']) {
      expect(() => new Int4KvStore({ group } as never), group).toThrow(`Bad value ${JSON.stringify(group)} for "group" of the kv store "int4"`);
    }
    // A decimal string that is out of range is refused as its number would be.
    expect(() => new Int4KvStore({ group: '0' } as never)).toThrow(InvalidOptionsError);
  });

  it('kvQuant takes bits as a decimal string too', () => {
    expect(kvQuant({ bits: '4', group: '32' } as never).description).toBe('default KV cache: int4');
    // Signed, as the store options take them.
    expect(kvQuant({ bits: '+8', group: '+16' } as never).description).toBe('default KV cache: int8');
    expect(() => kvQuant({ bits: '4.0' } as never)).toThrow(/bits must be 8, 4 or 2 \(got "4\.0"\)/);
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

describe('temporal option errors', () => {
  it('says when `rest` clashes with the default schedule, which the caller never wrote', () => {
    const make = () => new TemporalKvStore({ rest: 'int8' });
    expect(make).toThrow(InvalidOptionsError);
    expect(make).toThrow(/rest \(int8\) must have a lower precision than the int8 tier: precision falls with age\. With no tier given the schedule is the default fp32=64,int8=256; give the tiers too, e\.g\. \{ fp32: 64, rest: 'int8' \}/);
    // The suggested form is accepted.
    expect(new TemporalKvStore({ fp32: 64, rest: 'int8' }).rest).toBe('int8');
    // With tiers given, the message names only them.
    expect(() => new TemporalKvStore({ int4: 10 })).toThrow(/^rest \(int4\) must have a lower precision than the int4 tier: precision falls with age\. Valid options/);
  });
});
