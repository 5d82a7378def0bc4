import { describe, expect, it } from 'vitest';
import { AdapterResolutionError, createWeft } from '@weft/core';
import { npuBackend } from '../src/index.js';
import { FACTS, tinyModel } from './helpers.js';
import { invalidOptionsThrown as thrown } from '../../../core/test/hostile-options.js';

/** An array proxy whose `length` read throws. */
const lengthThrows = (items: unknown[]): unknown[] =>
  new Proxy(items, {
    get(target, key, receiver) {
      if (key === 'length') throw new Error('len boom');
      return Reflect.get(target, key, receiver) as unknown;
    },
  });

describe('provider lists that cannot be read', () => {
  it('a providers proxy whose length throws is an InvalidOptionsError', () => {
    const error = thrown(() => npuBackend({ providers: lengthThrows(['qnn']) as never }));
    expect(error.message).toBe('providers.length could not be read: len boom');
    expect(error.option).toBe('providers');
  });

  it('a providers item whose getter throws is an InvalidOptionsError', () => {
    const list = Object.defineProperty(['qnn', 'cpu'], 1, {
      get() {
        throw new Error('item boom');
      },
    });
    const error = thrown(() => npuBackend({ providers: list as never }));
    expect(error.message).toBe('providers[1] could not be read: item boom');
    expect(error.option).toBe('providers[1]');
  });

  it('a providers proxy with a length that is not a count is refused', () => {
    const list = new Proxy(['qnn'], { get: (target, key, receiver) => (key === 'length' ? 'many' : (Reflect.get(target, key, receiver) as unknown)) });
    expect(thrown(() => npuBackend({ providers: list as never })).message).toBe('providers.length must be a whole number >= 0 (got "many").');
  });

  it('a huge list stops at its first repeated name', () => {
    const list = new Proxy(['qnn', 'qnn'], { get: (target, key, receiver) => (key === 'length' ? 2 ** 32 - 1 : (Reflect.get(target, key, receiver) as unknown)) });
    expect(thrown(() => npuBackend({ providers: list as never })).message).toBe('providers lists qnn twice.');
  });

  it('facts.runtimeProviders whose length throws is an InvalidOptionsError', () => {
    const error = thrown(() => npuBackend({ facts: { ...FACTS.linuxX64, runtimeProviders: lengthThrows([{ name: 'cpu', bundled: true }]) as never } }));
    expect(error.message).toBe('facts.runtimeProviders.length could not be read: len boom');
    expect(error.option).toBe('facts.runtimeProviders');
  });

  it('a revoked proxy as options is an InvalidOptionsError', () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(thrown(() => npuBackend(proxy as never)).message).toMatch(/^options could not be read: /);
    const providers = Proxy.revocable([] as unknown[], {});
    providers.revoke();
    expect(thrown(() => npuBackend({ providers: providers.proxy as never })).message).toMatch(/^providers could not be read: /);
    // A provider entry that is one: before, a bare Array.isArray on it threw a TypeError.
    const entry = Proxy.revocable({ name: 'qnn' }, {});
    entry.revoke();
    expect(thrown(() => npuBackend({ providers: [entry.proxy as never] })).message).toMatch(/could not be read: /);
  });
});

describe('an npu-only runtime on a machine without an NPU provider', () => {
  it("says that fallback 'cpu' does not stand in for an NPU, and what to add", async () => {
    const weft = createWeft({ plugins: [npuBackend({ facts: FACTS.linuxX64 })] });
    try {
      const error = await weft.load(tinyModel).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(AdapterResolutionError.isInstance(error), String(error)).toBe(true);
      // Said before the details, which core may cut: it must survive in the error.
      expect((error as Error).message).toContain(
        "registered: npu (unavailable: no NPU execution provider is usable on linux x64 (fallback 'cpu' needs one; add nodeBackend() or, in a browser, webBackend() to run on the CPU): openvino: not offered:",
      );
    } finally {
      await weft.dispose();
    }
  });
});
