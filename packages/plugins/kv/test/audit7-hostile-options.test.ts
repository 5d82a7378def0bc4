import { describe, expect, it } from 'vitest';
import { Fp16KvStore, Int4KvStore, Int8KvStore, KiviKvStore, kvCompressors, kvQuant, TemporalKvStore } from '../src/index.js';
import { invalidOptionsThrown as thrown, throwingGetter, throwingProxy } from '../../../core/test/hostile-options.js';

describe('options that cannot be read', () => {
  it('kvQuant names the option that could not be read', () => {
    const proxy = thrown(() => kvQuant(throwingProxy() as never));
    expect(proxy.message).toBe('kvQuant options could not be read: ownKeys boom');
    expect(proxy.option).toBe('options');
    const bits = thrown(() => kvQuant(throwingGetter('bits') as never));
    expect(bits.message).toBe('bits could not be read: getter boom');
    expect(bits.option).toBe('bits');
    const group = thrown(() => kvQuant(Object.assign(throwingGetter('group'), { bits: 4 }) as never));
    expect(group.message).toBe('group could not be read: getter boom');
  });

  it('kvCompressors names the option that could not be read', () => {
    expect(thrown(() => kvCompressors(throwingProxy() as never)).message).toBe('kvCompressors options could not be read: ownKeys boom');
    const priority = thrown(() => kvCompressors(throwingGetter('priority') as never));
    expect(priority.message).toBe('priority could not be read: getter boom');
    expect(priority.option).toBe('priority');
  });

  const stores: [string, (o: object) => unknown][] = [
    ['fp16', (o) => new Fp16KvStore(o as never)],
    ['int8', (o) => new Int8KvStore(o as never)],
    ['int4', (o) => new Int4KvStore(o as never)],
    ['kivi', (o) => new KiviKvStore(o as never)],
    ['temporal', (o) => new TemporalKvStore(o as never)],
  ];
  it.each(stores)('new %s store refuses a proxy or a throwing getter with an InvalidOptionsError', (name, make) => {
    const proxy = thrown(() => make(throwingProxy()));
    expect(proxy.message).toBe(`Options of the kv store "${name}" could not be read: ownKeys boom`);
    expect(proxy.option).toBe('kv');
    const getter = thrown(() => make(throwingGetter('group')));
    expect(getter.message).toBe(`Option "group" of the kv store "${name}" could not be read: getter boom`);
    expect(getter.option).toBe('kv.group');
  });
});

describe('kvCompressors priority', () => {
  it.each([
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    [null, 'null'],
    ['10', '"10"'],
    [Symbol('p'), 'a symbol'],
  ])('refuses %s where it is written', (priority, got) => {
    const error = thrown(() => kvCompressors({ priority } as never));
    expect(error.message).toBe(`priority must be a finite number (got ${got}).`);
    expect(error.option).toBe('priority');
  });

  it('takes any finite number, as nodeBackend does', () => {
    for (const priority of [-1, 0, 10, 1e300]) expect(kvCompressors({ priority }).name).toBe('@weft/plugin-kv');
  });
});

describe('kvQuant reads own options only', () => {
  it('does not take an inherited bits', () => {
    const error = thrown(() => kvQuant(Object.create({ bits: 4 }) as never));
    expect(error.message).toBe('kvQuant: bits must be 8, 4 or 2 (got undefined).');
    expect(error.option).toBe('bits');
  });

  it('does not take an inherited store option', () => {
    const options = Object.assign(Object.create({ group: 0 }) as object, { bits: 4 });
    expect(kvQuant(options as never).name).toBe('@weft/plugin-kv.quant');
  });
});

describe('huge keys in messages', () => {
  it('are shortened but still named', () => {
    const key = 'k'.repeat(1_000_000);
    const error = thrown(() => new Int4KvStore({ [key]: 1 }));
    expect(error.message.length).toBeLessThan(300);
    expect(error.message).toMatch(/^Unknown option "k+…" for the kv store "int4"\. Valid options of "int4": group/);
    const viaQuant = thrown(() => kvQuant({ bits: 8, [key]: 1 } as never));
    expect(viaQuant.message.length).toBeLessThan(300);
    expect(viaQuant.message).toMatch(/^Unknown option "k+…" for the kv store "int8"/);
  });
});

describe('a revoked proxy as options', () => {
  it('is an InvalidOptionsError everywhere', () => {
    const revoked = (): object => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return proxy;
    };
    expect(thrown(() => kvQuant(revoked() as never)).message).toMatch(/^kvQuant options could not be read: /);
    expect(thrown(() => kvCompressors(revoked() as never)).message).toMatch(/^kvCompressors options could not be read: /);
    expect(thrown(() => new Int4KvStore(revoked() as never)).message).toMatch(/^Options of the kv store "int4" could not be read: /);
  });
});
