import { expect } from 'vitest';
import { InvalidOptionsError } from '../src/index.js';

// Hostile option values for the tests of every package that reads options (core's readers, the
// bundled plugins and backends): each read throws an error whose message says which read it was.

/** An object whose enumerable `key` getter throws `getter boom`. */
export const throwingGetter = (key: string): object =>
  Object.defineProperty({}, key, {
    enumerable: true,
    get() {
      throw new Error('getter boom');
    },
  });

/** A Proxy whose every trap a reader may use throws (`ownKeys boom`, `get boom`, …). */
export const throwingProxy = (): object =>
  new Proxy(
    {},
    {
      ownKeys() {
        throw new Error('ownKeys boom');
      },
      get() {
        throw new Error('get boom');
      },
      has() {
        throw new Error('has boom');
      },
      getOwnPropertyDescriptor() {
        throw new Error('descriptor boom');
      },
    },
  );

/** A revoked Proxy of `target`: every operation on it throws a `TypeError`. */
export function revokedProxy<T extends object>(target: T): T {
  const { proxy, revoke } = Proxy.revocable(target, {});
  revoke();
  return proxy;
}

/** What `make` throws, checked to be an `InvalidOptionsError`. */
export function invalidOptionsThrown(make: () => unknown): InvalidOptionsError {
  try {
    make();
  } catch (error) {
    expect(InvalidOptionsError.isInstance(error), String(error)).toBe(true);
    return error as InvalidOptionsError;
  }
  throw new Error('expected an InvalidOptionsError');
}
