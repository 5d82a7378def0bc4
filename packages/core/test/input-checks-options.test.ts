import { afterAll, describe, expect, it } from 'vitest';
import { createWeft, InvalidOptionsError } from '../src/index.js';
import { fixture, runtime } from './helpers.js';

/**
 * Options read at the API boundary, once: a getter or proxy trap that throws is an
 * `InvalidOptionsError` naming the option, not the raw error from wherever it was first read, and
 * a value cannot change between its check and its use. Before, `weft.load` and `createWeft` let
 * such errors through as they were.
 */

const boom = (what: string) => (): never => {
  throw new Error(`${what} getter`);
};
const throwingKeys = () => new Proxy({}, { ownKeys: boom('ownKeys') });

async function loadError(options: object): Promise<unknown> {
  return weft.load(fixture('tiny'), options as never).then(() => 'loaded', (e: unknown) => e);
}

const weft = runtime();
afterAll(() => weft.dispose());

describe('weft.load options', () => {
  const cases: [string, object, string, RegExp][] = [
    ['a throwing getter', { get backend(): never { return boom('backend')(); } }, 'backend', /^backend could not be read: .*backend getter/],
    ['a proxy whose get trap throws', new Proxy({}, { get: boom('trap') }), 'backend', /could not be read: .*trap getter/],
    ['a proxy whose ownKeys trap throws', throwingKeys(), 'options', /^The keys of load options could not be read: .*ownKeys getter/],
    ['a throwing nested getter', { failover: { get backends(): never { return boom('backends')(); } } }, 'failover.backends', /^failover\.backends could not be read/],
    ['a nested proxy', { session: throwingKeys() }, 'session', /^The keys of session could not be read/],
    ['a list whose item read throws', { session: { executionProviders: new Proxy(['cpu'], { get: (t, k) => (k === '0' ? boom('item')() : Reflect.get(t, k)) }) } }, 'session.executionProviders', /executionProviders\[0\] could not be read/],
    ['a list claiming 2^32 - 1 items', { failover: { backends: new Proxy([], { get: (t, k) => (k === 'length' ? 2 ** 32 - 1 : Reflect.get(t, k)) }) } }, 'failover.backends', /holds 4294967295 items/],
  ];
  for (const [what, options, option, message] of cases) {
    it(`${what}: InvalidOptionsError naming ${option}`, async () => {
      const error = await loadError(options);
      expect(InvalidOptionsError.isInstance(error), String(error)).toBe(true);
      expect((error as InvalidOptionsError).option).toBe(option);
      expect((error as Error).message).toMatch(message);
    });
  }

  it('reads each option once: a getter cannot pass the check and then change', async () => {
    let reads = 0;
    const error = await loadError({
      get backend() {
        reads++;
        return reads === 1 ? 'node' : 42;
      },
      get failover() {
        reads++;
        return { backends: [] };
      },
    });
    expect(error).not.toBeInstanceOf(Error);
    expect(reads).toBe(2);
  });

  it('inherited options and proxies that only trap get still load', async () => {
    class Options {
      get backend(): string {
        return 'node';
      }
    }
    const viaProxy = new Proxy({}, { get: (_, k) => (k === 'backend' ? 'node' : undefined) });
    for (const options of [new Options(), viaProxy]) {
      const model = await weft.load(fixture('tiny'), options as never);
      expect(model.backend).toBe('node');
      await model.dispose();
    }
  });

  it('an unknown key is still reported', async () => {
    const error = await loadError({ onnx_file: 'x' });
    expect((error as InvalidOptionsError).option).toBe('onnx_file');
  });
});

describe('createWeft options', () => {
  const thrown = (options: unknown): unknown => {
    try {
      createWeft(options as never);
      return 'created';
    } catch (error) {
      return error;
    }
  };
  const cases: [string, unknown, string, RegExp][] = [
    ['a throwing getter', { get plugins(): never { return boom('plugins')(); } }, 'plugins', /^plugins could not be read: .*plugins getter/],
    ['a proxy whose ownKeys trap throws', throwingKeys(), 'options', /^The keys of the createWeft options could not be read/],
    ['a plugin list whose length read throws', { plugins: new Proxy([], { get: (t, k) => (k === 'length' ? boom('length')() : Reflect.get(t, k)) }) }, 'plugins', /plugins\.length could not be read/],
    ['a throwing setupTimeoutMs getter', { get setupTimeoutMs(): never { return boom('timeout')(); } }, 'setupTimeoutMs', /^setupTimeoutMs could not be read/],
  ];
  for (const [what, options, option, message] of cases) {
    it(`${what}: InvalidOptionsError naming ${option}`, () => {
      const error = thrown(options);
      expect(InvalidOptionsError.isInstance(error), String(error)).toBe(true);
      expect((error as InvalidOptionsError).option).toBe(option);
      expect((error as Error).message).toMatch(message);
    });
  }
});
