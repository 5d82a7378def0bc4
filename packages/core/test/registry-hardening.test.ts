import { describe, expect, it } from 'vitest';
import {
  AdapterResolutionError,
  BUILT_IN_KINDS,
  DefaultAdapterRegistry,
  FullPrecisionKvStore,
  InvalidOptionsError,
  type AdapterKind,
  type Analyzer,
  type RegisteredEntry,
} from '../src/index.js';

const analyzer = (name: string): Analyzer => ({ name, observe: () => 0 });
const entry = (name: string, extra: Record<string, unknown> = {}) => ({ name, create: () => analyzer(name), ...extra });

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('registry entries are frozen copies', () => {
  it('hands out frozen arrays and entries that cannot change what the registry holds', () => {
    const r = new DefaultAdapterRegistry();
    r.register('kv-cache', { name: 'fp32', create: () => new FullPrecisionKvStore() }, '@weft/core');
    const listed = r.list('kv-cache') as RegisteredEntry[];
    expect(Object.isFrozen(listed)).toBe(true);
    expect(() => { listed.length = 0; }).toThrow(TypeError);
    expect(() => listed.pop()).toThrow(TypeError);
    const resolved = r.resolve('kv-cache', { name: 'fp32' }) as { -readonly [K in keyof RegisteredEntry]: RegisteredEntry[K] };
    expect(Object.isFrozen(resolved)).toBe(true);
    expect(() => { resolved.owner = 'thief'; }).toThrow(TypeError);
    expect(() => { resolved.create = () => ({}) as never; }).toThrow(TypeError);
    expect(r.list('kv-cache').map((e) => [e.name, e.owner])).toEqual([['fp32', '@weft/core']]);
    expect(r.resolve('kv-cache').create()).toBeInstanceOf(FullPrecisionKvStore);
  });

  it('copies capabilities, so changing the array passed in changes nothing', () => {
    const r = new DefaultAdapterRegistry();
    const capabilities = ['compressed'];
    r.register('kv-cache', { name: 'q', capabilities, create: () => new FullPrecisionKvStore() });
    capabilities.push('default');
    expect(r.list('kv-cache')[0]!.capabilities).toEqual(['compressed']);
    expect(Object.isFrozen(r.list('kv-cache')[0]!.capabilities)).toBe(true);
  });

  it('returns the same list until something is registered, and counts revisions', () => {
    const r = new DefaultAdapterRegistry();
    r.register('analyzer', entry('a'));
    const first = r.list('analyzer');
    expect(r.list('analyzer')).toBe(first);
    const revision = r.revision;
    r.register('analyzer', entry('b', { priority: 5 }));
    expect(r.revision).toBe(revision + 1);
    expect(r.list('analyzer')).not.toBe(first);
    expect(r.list('analyzer').map((e) => e.name)).toEqual(['b', 'a']);
    expect(first.map((e) => e.name)).toEqual(['a']);
  });

  it('reads the name once', () => {
    const r = new DefaultAdapterRegistry();
    let reads = 0;
    r.register('analyzer', { get name() { return `n${++reads}`; }, create: () => analyzer('n') });
    expect(r.list('analyzer').map((e) => e.name)).toEqual(['n1']);
  });

  it('keeps create() working for class instances, with their this', () => {
    class EntropyEntry {
      readonly name = 'entropy';
      readonly prefix = 'made by';
      create(): Analyzer {
        return analyzer(`${this.prefix} ${this.name}`);
      }
    }
    const r = new DefaultAdapterRegistry();
    r.register('analyzer', new EntropyEntry());
    expect(r.resolve('analyzer', { name: 'entropy' }).create().name).toBe('made by entropy');
  });
});

describe('registry entry validation', () => {
  it.each([
    ['a capabilities string (substring matches would count)', { capabilities: 'not-a-default-store' }, 'capabilities'],
    ['a numeric capabilities field', { capabilities: 7 }, 'capabilities'],
    ['a capability that is not a string', { capabilities: ['ok', 3] }, 'capabilities'],
    ['a non-numeric priority', { priority: '5' }, 'priority'],
    ['an infinite priority', { priority: Infinity }, 'priority'],
    ['a non-string description', { description: 42 }, 'description'],
    ['a create that is not a function', { create: 'make' }, 'create'],
    ['a whitespace-only name', { name: '   ' }, 'name'],
    ['a non-string name', { name: 10n }, 'name'],
  ])('rejects %s with InvalidOptionsError', (_, fields, option) => {
    const r = new DefaultAdapterRegistry();
    const error = thrown(() => r.register('kv-cache', { ...entry('x'), ...fields } as never));
    expect(InvalidOptionsError.isInstance(error)).toBe(true);
    expect((error as InvalidOptionsError).option).toBe(option);
    expect(r.list('kv-cache')).toHaveLength(0);
    expect(r.revision).toBe(0);
  });

  it('rejects entries whose fields cannot be read', () => {
    const r = new DefaultAdapterRegistry();
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const hostile = [
      proxy,
      new Proxy({}, { get() { throw new Error('trap'); } }),
      { name: 'x', create: () => ({}), get capabilities() { throw new Error('getter'); } },
      { name: 'x', create: () => ({}), capabilities: new Proxy([], { get() { throw new Error('trap'); } }) },
      null,
    ];
    for (const value of hostile) {
      expect(InvalidOptionsError.isInstance(thrown(() => r.register('analyzer', value as never)))).toBe(true);
    }
    expect(r.list('analyzer')).toHaveLength(0);
  });

  it('accepts a create function whose properties cannot be read, and calls it', () => {
    const r = new DefaultAdapterRegistry();
    const create = new Proxy(() => analyzer('p'), { get() { throw new Error('trap'); } });
    r.register('analyzer', { name: 'p', create });
    expect(r.resolve('analyzer').create().name).toBe('p');
  });

  it('quotes a huge name in a short message', () => {
    const error = thrown(() => new DefaultAdapterRegistry().register('analyzer', { name: 'x'.repeat(5_000_000), create: () => analyzer('x') }));
    expect(InvalidOptionsError.isInstance(error)).toBe(true);
    expect((error as Error).message.length).toBeLessThan(500);
  });
});

describe('registry kinds', () => {
  it('rejects an unknown kind and suggests the closest known one', () => {
    const r = new DefaultAdapterRegistry();
    const error = thrown(() => r.register('logit-processor' as AdapterKind, entry('p') as never));
    expect(InvalidOptionsError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/Unknown adapter kind "logit-processor"\. Did you mean "logits-processor"\?/);
    expect((error as Error).message).toMatch(/declareKind\("logit-processor"\)/);
    expect(r.list('logit-processor' as AdapterKind)).toHaveLength(0);
  });

  it('rejects a non-string kind', () => {
    expect(InvalidOptionsError.isInstance(thrown(() => new DefaultAdapterRegistry().register(undefined as never, entry('p') as never)))).toBe(true);
  });

  it('knows every core kind, tokenizer included', () => {
    expect(BUILT_IN_KINDS).toEqual(expect.arrayContaining(['backend', 'kv-cache', 'logits-processor', 'attention-router', 'grounder', 'tokenizer']));
    const r = new DefaultAdapterRegistry();
    r.register('tokenizer' as AdapterKind, entry('hf') as never);
    expect(r.list('tokenizer' as AdapterKind).map((e) => e.name)).toEqual(['hf']);
  });

  it('accepts a kind after declareKind, per registry', () => {
    const r = new DefaultAdapterRegistry();
    r.declareKind('my-kind');
    r.declareKind('my-kind'); // idempotent
    r.register('my-kind' as AdapterKind, entry('mine') as never);
    expect(r.resolve('my-kind' as AdapterKind).name).toBe('mine');
    expect(InvalidOptionsError.isInstance(thrown(() => new DefaultAdapterRegistry().register('my-kind' as AdapterKind, entry('mine') as never)))).toBe(true);
  });

  it.each([[''], ['has space'], [42], ['k'.repeat(101)]])('rejects declareKind(%j)', (kind) => {
    expect(InvalidOptionsError.isInstance(thrown(() => new DefaultAdapterRegistry().declareKind(kind as string)))).toBe(true);
  });
});

describe('registry stages', () => {
  it('commits a batch whole, or nothing when any entry clashes', () => {
    const r = new DefaultAdapterRegistry();
    const stage = r.stage('plugin-a');
    stage.register('analyzer', entry('a'));
    stage.register('analyzer', entry('b'));
    expect(r.list('analyzer')).toHaveLength(0);
    r.register('analyzer', entry('b'), 'host'); // someone else takes "b" meanwhile
    expect(() => stage.commit()).toThrow(/"b" is already registered by host/);
    expect(r.list('analyzer').map((e) => e.name)).toEqual(['b']);
    const retry = r.stage('plugin-a');
    retry.register('analyzer', entry('a'));
    retry.declareKind('plugin-a-kind');
    retry.register('plugin-a-kind' as AdapterKind, entry('k') as never);
    retry.commit();
    expect(r.list('analyzer').map((e) => [e.name, e.owner])).toEqual([['b', 'host'], ['a', 'plugin-a']]);
    expect(r.list('plugin-a-kind' as AdapterKind)).toHaveLength(1);
    expect(() => retry.commit()).toThrow(/already committed/);
  });

  it('rejects a name staged twice at the second register', () => {
    const stage = new DefaultAdapterRegistry().stage('p');
    stage.register('analyzer', entry('a'));
    expect(() => stage.register('analyzer', entry('a'))).toThrow(/"a" is already registered by p/);
  });
});

describe('resolve', () => {
  it('turns a throwing accept predicate into that entry\'s rejection reason', () => {
    const r = new DefaultAdapterRegistry();
    r.register('analyzer', entry('a'), 'plugin-a');
    r.register('analyzer', entry('b'), 'plugin-b');
    const error = thrown(() =>
      r.resolve('analyzer', {
        accept: (e) => {
          if (e.name === 'a') throw new Error('probe exploded');
          throw Object.create(null);
        },
      }),
    );
    expect(AdapterResolutionError.isInstance(error)).toBe(true);
    expect((error as AdapterResolutionError).rejections).toEqual([
      { name: 'a', reason: 'accept() threw: probe exploded' },
      { name: 'b', reason: 'accept() threw: an object, not an Error ({})' },
    ]);
  });

  it('still picks an entry that accept() passes after one that throws', () => {
    const r = new DefaultAdapterRegistry();
    r.register('analyzer', entry('a', { priority: 2 }));
    r.register('analyzer', entry('b', { priority: 1 }));
    expect(r.resolve('analyzer', { accept: (e) => { if (e.name === 'a') throw new Error('no'); return true; } }).name).toBe('b');
  });

  it.each([
    ['null', null],
    ['a string', 'fp32'],
    ['require as a string', { require: 'b' }],
    ['require with a number', { require: [1] }],
    ['a numeric name', { name: 3 }],
    ['a non-function accept', { accept: 'yes' }],
    ['a query whose getters throw', { get name() { throw new Error('getter'); } }],
  ])('rejects %s as a query with InvalidOptionsError', (_, query) => {
    const r = new DefaultAdapterRegistry();
    r.register('analyzer', entry('a'));
    expect(InvalidOptionsError.isInstance(thrown(() => r.resolve('analyzer', query as never)))).toBe(true);
  });

  it('no longer mistakes a capabilities substring for a capability', () => {
    const r = new DefaultAdapterRegistry();
    expect(() => r.register('kv-cache', { name: 'sneaky', capabilities: 'not-a-default-store' as never, create: () => new FullPrecisionKvStore() })).toThrow(InvalidOptionsError);
    r.register('kv-cache', { name: 'plain', capabilities: ['not-a-default-store'], create: () => new FullPrecisionKvStore() });
    expect(() => r.resolve('kv-cache', { require: ['default'] })).toThrow(AdapterResolutionError);
  });
});
