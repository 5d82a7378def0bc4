import { describe, expect, it } from 'vitest';
import {
  checkKnownKeys,
  isOptionList,
  isOptionsObject,
  MAX_OPTION_LIST,
  optionKeyLabel,
  readOptionList,
  readOptionListItem,
  readOptionListLength,
  readOwnOptions,
} from '../src/index.js';
import { invalidOptionsThrown, revokedProxy, throwingGetter, throwingProxy } from './hostile-options.js';

describe('readOwnOptions', () => {
  it('copies own enumerable properties, each read once, and ignores inherited ones', () => {
    let reads = 0;
    const given = Object.create({ inherited: 1 }, { once: { enumerable: true, get: () => ++reads }, hidden: { enumerable: false, value: 2 } }) as object;
    const copy = readOwnOptions(given, 'opts');
    expect(copy).toEqual({ once: 1 });
    expect(reads).toBe(1);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
  });

  it('keeps a __proto__ key as an own key, never as a prototype', () => {
    const copy = readOwnOptions(JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as object, '');
    expect(Object.keys(copy)).toEqual(['__proto__', 'a']);
    expect((copy as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('names what could not be read by path: the object, or the property', () => {
    const whole = invalidOptionsThrown(() => readOwnOptions(throwingProxy(), 'defaults'));
    expect(whole).toMatchObject({ message: 'defaults could not be read: ownKeys boom', option: 'defaults' });
    expect((whole.cause as Error).message).toBe('ownKeys boom');
    expect(invalidOptionsThrown(() => readOwnOptions(throwingGetter('numThreads'), 'defaults'))).toMatchObject({
      message: 'defaults.numThreads could not be read: getter boom',
      option: 'defaults.numThreads',
    });
    expect(invalidOptionsThrown(() => readOwnOptions(throwingProxy(), ''))).toMatchObject({ message: 'options could not be read: ownKeys boom', option: 'options' });
    expect(invalidOptionsThrown(() => readOwnOptions(throwingGetter('bits'), ''))).toMatchObject({ message: 'bits could not be read: getter boom', option: 'bits' });
    expect(invalidOptionsThrown(() => readOwnOptions(revokedProxy({}), 'x')).message).toMatch(/^x could not be read: .*revoked/);
  });

  it('names them as the caller says, and shortens a long key', () => {
    const naming = { what: 'Options of "int4"', label: (key: string) => `Option "${key}" of "int4"`, option: (key?: string) => (key === undefined ? 'kv' : `kv.${key}`) };
    expect(invalidOptionsThrown(() => readOwnOptions(throwingProxy(), 'kv', naming))).toMatchObject({ message: 'Options of "int4" could not be read: ownKeys boom', option: 'kv' });
    expect(invalidOptionsThrown(() => readOwnOptions(throwingGetter('group'), 'kv', naming))).toMatchObject({ message: 'Option "group" of "int4" could not be read: getter boom', option: 'kv.group' });
    const long = 'k'.repeat(1e6);
    const error = invalidOptionsThrown(() => readOwnOptions(throwingGetter(long), 'opts'));
    expect(error.message.length).toBeLessThan(300);
    expect(optionKeyLabel('short')).toBe('short');
    expect(optionKeyLabel(long).length).toBeLessThan(200);
  });
});

describe('a Map or Set given as options', () => {
  it('is refused, not read as no options (review 28: new Map([["bits", 4]]) gave the defaults)', () => {
    const error = invalidOptionsThrown(() => readOwnOptions(new Map([['bits', 4]]), 'kvQuant'));
    expect(error).toMatchObject({ option: 'kvQuant', message: 'kvQuant must be a plain object of options, not a Map (Object.fromEntries(map) turns a Map into one).' });
    expect(invalidOptionsThrown(() => readOwnOptions(new Set(), '')).message).toBe('options must be a plain object of options, not a Set.');
    expect(readOwnOptions(Object.assign(Object.create(null) as object, { bits: 4 }), 'x')).toEqual({ bits: 4 });
  });
});

describe('option lists', () => {
  it('tells objects and lists apart, a revoked proxy included', () => {
    expect([{}, [], null, 'x', revokedProxy({})].map((v) => isOptionsObject(v))).toEqual([true, false, false, false, true]);
    expect(isOptionList([], 'list')).toBe(true);
    expect(isOptionList({}, 'list')).toBe(false);
    expect(invalidOptionsThrown(() => isOptionList(revokedProxy([]), 'providers')).option).toBe('providers');
  });

  it('copies a list reading each item once, and refuses a hostile length or item', () => {
    expect(readOptionList(['a', 'b'], 'providers')).toEqual(['a', 'b']);
    const lying = new Proxy([] as unknown[], { get: (target, key) => (key === 'length' ? 'many' : Reflect.get(target, key)) });
    expect(invalidOptionsThrown(() => readOptionListLength(lying, 'providers')).message).toBe('providers.length must be a whole number >= 0 (got "many").');
    const huge = new Proxy([] as unknown[], { get: (target, key) => (key === 'length' ? 2 ** 32 - 1 : Reflect.get(target, key)) });
    expect(invalidOptionsThrown(() => readOptionList(huge, 'providers')).message).toBe(`providers holds 4294967295 items; at most ${MAX_OPTION_LIST} are allowed.`);
    const item = Object.defineProperty(['a'], 1, { enumerable: true, get: () => { throw new Error('item boom'); } }) as unknown[];
    expect(invalidOptionsThrown(() => readOptionListItem(item, 1, 'providers'))).toMatchObject({ message: 'providers[1] could not be read: item boom', option: 'providers[1]' });
    expect(invalidOptionsThrown(() => readOptionList(item, 'providers', 5)).option).toBe('providers[1]');
  });
});

describe('checkKnownKeys', () => {
  it('quotes a huge unknown key shortened, so the message stays a line', () => {
    const error = invalidOptionsThrown(() => checkKnownKeys({ ['k'.repeat(1e6)]: 1 }, ['a'], 'kvCompressors options', ''));
    expect(error.message.length).toBeLessThan(300);
    expect(error.message).toMatch(/^kvCompressors options has no option "k+…/);
    expect(error.option!.length).toBeLessThan(200);
    expect(invalidOptionsThrown(() => checkKnownKeys({ b: 1 }, ['a'], 'x')).message).toBe('x has no option "b" (it takes a).');
    expect(invalidOptionsThrown(() => checkKnownKeys({ b: 1 }, [], 'acme-entropy', '')).message).toBe('acme-entropy has no option "b" (it takes no options).');
  });

  it('quotes a key with control characters or a lone surrogate, in the message and in `option`, so either stays one line (review 28)', () => {
    const error = invalidOptionsThrown(() => checkKnownKeys({ 'a\nb\u001b[31m': 1 }, ['a'], 'x'));
    expect(error.message).toBe('x has no option "a\\nb\\u001b[31m" (it takes a).');
    expect(error.option).toBe('x."a\\nb\\u001b[31m"');
    for (const key of ['\ud800x', 'x\udc00']) expect(optionKeyLabel(key)).toBe(JSON.stringify(key));
    // What JSON leaves raw is escaped too: DEL, C1 (U+009B starts a terminal escape), separators, bidi controls (review 29).
    expect(optionKeyLabel('a\u009b31mb')).toBe('"a\\u009b31mb"');
    expect(optionKeyLabel('a\u2028b\u2029c\u007f')).toBe('"a\\u2028b\\u2029c\\u007f"');
    expect(optionKeyLabel('abc\u202edef')).toBe('"abc\\u202edef"');
    expect(optionKeyLabel('a\u0085')).toBe('"a\\u0085"');
    expect(optionKeyLabel('emoji 😀 ok')).toBe('emoji 😀 ok');
    expect(invalidOptionsThrown(() => readOwnOptions(throwingGetter('a\rb'), 'opts')).option).toBe('opts."a\\rb"');
  });
});
