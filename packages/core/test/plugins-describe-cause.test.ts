import { describe, expect, it } from 'vitest';
import { describeCause } from '../src/index.js';

const throwingProxy = () =>
  new Proxy({}, {
    get() { throw new Error('trap get'); },
    has() { throw new Error('trap has'); },
    getPrototypeOf() { throw new Error('trap getPrototypeOf'); },
    ownKeys() { throw new Error('trap ownKeys'); },
    getOwnPropertyDescriptor() { throw new Error('trap getOwnPropertyDescriptor'); },
  });

describe('describeCause', () => {
  it('gives the message of errors and error-likes, and strings verbatim', () => {
    expect(describeCause(new TypeError('boom'))).toBe('boom');
    expect(describeCause({ message: 'plain object message' })).toBe('plain object message');
    expect(describeCause('just text')).toBe('just text');
    expect(describeCause(new RangeError(''))).toBe('RangeError');
  });

  it('flattens multi-line messages to one line', () => {
    expect(describeCause(new Error('first\n  second\tthird'))).toBe('first second third');
  });

  it.each([
    ['undefined', undefined, 'undefined'],
    ['null', null, 'null'],
    ['a number', 42, '42'],
    ['a BigInt', 10n, '10'],
    ['a Symbol', Symbol('tag'), 'Symbol(tag)'],
    ['a null-prototype object', Object.create(null), 'an object, not an Error ({})'],
    ['an object whose toString throws', { toString() { throw new Error('no'); } }, 'an object, not an Error ({})'],
    ['an object whose toString returns an object', { toString: () => ({}) }, 'an object, not an Error ({})'],
    ['a plain object', { code: 5, reason: 'busy' }, 'an object, not an Error ({"code":5,"reason":"busy"})'],
    ['a cyclic object', (() => { const o: Record<string, unknown> = {}; o['self'] = o; return o; })(), 'an object, not an Error'],
    ['an object with a string form of its own', { toString: () => 'custom text' }, 'custom text'],
    ['an error whose message getter throws', Object.defineProperty(new Error('hidden'), 'message', { get() { throw new Error('getter'); } }), 'Error'],
    ['an error whose message is not a string', Object.assign(new Error(), { message: 12 }), 'Error'],
    ['an empty string', '', '(empty message)'],
  ])('describes %s without throwing', (_, value, expected) => {
    expect(describeCause(value)).toBe(expected);
  });

  it('describes a proxy that throws on every trap', () => {
    const text = describeCause(throwingProxy());
    expect(typeof text).toBe('string');
    expect(text.length).toBeGreaterThan(0);
  });

  it('describes a revoked proxy', () => {
    const { proxy, revoke } = Proxy.revocable({ message: 'gone' }, {});
    revoke();
    expect(describeCause(proxy)).toBe('a value that cannot be described');
  });

  it('truncates huge values to about 300 characters with an ellipsis', () => {
    const huge = 'x'.repeat(5_000_000);
    for (const value of [huge, new Error(huge), { toString: () => huge }]) {
      const text = describeCause(value);
      expect(text.length).toBeLessThanOrEqual(300);
      expect(text.endsWith('…')).toBe(true);
    }
  });

  it('does not split a surrogate pair when truncating', () => {
    const text = describeCause('a' + '😀'.repeat(400));
    expect(text.endsWith('…')).toBe(true);
    expect(/[\uD800-\uDBFF]…$/.test(text)).toBe(false);
  });
});
