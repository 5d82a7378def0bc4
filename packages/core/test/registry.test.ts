import { describe, expect, it } from 'vitest';
import { AdapterResolutionError, DefaultAdapterRegistry, InvalidOptionsError } from '../src/index.js';

const entry = (name: string, priority: number, capabilities: string[] = []) => ({
  name,
  priority,
  capabilities,
  create: () => ({ name, specificationVersion: 'v1' as const, probe: async () => ({ available: true }), createSession: async () => { throw new Error('unused'); } }),
});

describe('DefaultAdapterRegistry', () => {
  it('resolves the highest priority entry that has the required capabilities', () => {
    const r = new DefaultAdapterRegistry();
    r.register('backend', entry('low', 1, ['cpu']));
    r.register('backend', entry('high', 10, ['gpu']));
    r.register('backend', entry('mid', 5, ['cpu', 'wasm']));
    expect(r.resolve('backend').name).toBe('high');
    expect(r.resolve('backend', { require: ['cpu'] }).name).toBe('mid');
    expect(r.resolve('backend', { name: 'low' }).name).toBe('low');
    expect(r.list('backend').map((e) => e.name)).toEqual(['high', 'mid', 'low']);
  });

  it('lists every registered entry and why it was rejected', () => {
    const r = new DefaultAdapterRegistry();
    r.register('backend', entry('a', 1, ['cpu']), 'plugin-a');
    r.register('backend', entry('b', 2, []), 'plugin-b');
    const error = (() => {
      try {
        r.resolve('backend', { require: ['npu'], accept: (e) => (e.name === 'a' ? 'too slow' : true) });
      } catch (e) {
        return e;
      }
    })();
    expect(AdapterResolutionError.isInstance(error)).toBe(true);
    const resolution = error as AdapterResolutionError;
    expect(resolution.rejections).toEqual([
      { name: 'b', reason: 'lacks capabilities npu' },
      { name: 'a', reason: 'lacks capabilities npu' },
    ]);
    expect(resolution.message).toContain('b (lacks capabilities npu)');
    expect(() => r.resolve('backend', { name: 'a', accept: () => 'too slow' })).toThrow(/a \(too slow\)/);
  });

  it('says when a kind has no entries at all', () => {
    expect(() => new DefaultAdapterRegistry().resolve('analyzer', { name: 'x' })).toThrow(/no analyzer adapters are registered/);
  });

  it('suggests the closest kind when resolving a kind nobody declared', () => {
    const error = (() => {
      try {
        new DefaultAdapterRegistry().resolve('logit-processor' as never);
      } catch (e) {
        return e;
      }
    })();
    expect(InvalidOptionsError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/Unknown adapter kind "logit-processor"\. Did you mean "logits-processor"\?/);
  });

  it('rejects duplicate names and malformed entries', () => {
    const r = new DefaultAdapterRegistry();
    r.register('backend', entry('a', 1), 'first');
    expect(() => r.register('backend', entry('a', 2), 'second')).toThrow(/already registered by first/);
    expect(() => r.register('backend', { name: '', create: () => ({}) } as never)).toThrow(InvalidOptionsError);
    expect(() => r.register('backend', { name: 'x' } as never)).toThrow(/create\(\)/);
    expect(() => r.register('backend', { ...entry('y', 0), priority: Number.NaN })).toThrow(/priority/);
  });
});
