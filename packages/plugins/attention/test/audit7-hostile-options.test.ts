import { describe, expect, it } from 'vitest';
import { attentionRouters, createRouter, heavyHitter, sinkWindow, slidingWindow } from '../src/index.js';
import { invalidOptionsThrown as thrown, throwingGetter, throwingProxy } from '../../../core/test/hostile-options.js';

describe('options that cannot be read', () => {
  it('createRouter names the option', () => {
    const proxy = thrown(() => createRouter('window', throwingProxy()));
    expect(proxy.message).toBe('Options of router "window" could not be read: ownKeys boom');
    expect(proxy.option).toBe('router');
    const getter = thrown(() => createRouter('window', throwingGetter('budget')));
    expect(getter.message).toBe('Option "budget" of router "window" could not be read: getter boom');
    expect(getter.option).toBe('router.budget');
  });

  it('attentionRouters names the option', () => {
    expect(thrown(() => attentionRouters(throwingProxy() as never)).message).toBe('attentionRouters options could not be read: ownKeys boom');
    const top = thrown(() => attentionRouters(throwingGetter('default') as never));
    expect(top.message).toBe('default could not be read: getter boom');
    expect(top.option).toBe('default');
    expect(thrown(() => attentionRouters({ default: throwingProxy() as never })).message).toBe('default could not be read: ownKeys boom');
    const router = thrown(() => attentionRouters({ default: throwingGetter('router') as never }));
    expect(router.message).toBe('default.router could not be read: getter boom');
    expect(router.option).toBe('default.router');
    const options = thrown(() => attentionRouters({ default: { router: 'window', options: throwingProxy() as never } }));
    expect(options.message).toBe('default.options could not be read: ownKeys boom');
    expect(options.option).toBe('default.options');
  });

  it.each([
    ['sinkWindow', sinkWindow],
    ['slidingWindow', slidingWindow],
    ['heavyHitter', heavyHitter],
  ] as const)('%s names the option', (_name, make) => {
    expect(thrown(() => make(throwingProxy() as never)).message).toBe('default.options could not be read: ownKeys boom');
    const getter = thrown(() => make(throwingGetter('budget') as never));
    expect(getter.message).toBe('default.options.budget could not be read: getter boom');
    expect(getter.option).toBe('default.options.budget');
  });
});

describe('router names that are not strings', () => {
  const routers = 'Routers: full, window, sink-window, strided, heavy-hitter, key-norm, hybrid, content-aware.';
  it.each([
    ['a symbol', Symbol('r'), 'a symbol'],
    ['a number', 5, '5'],
    ['null', null, 'null'],
    ['undefined', undefined, 'undefined'],
    ['an object whose toString throws', { toString: (): string => { throw new Error('toString boom'); } }, 'an object'],
  ])('createRouter(%s) is an InvalidOptionsError', (_label, name, got) => {
    const error = thrown(() => createRouter(name as never));
    expect(error.message).toBe(`An attention router is named by a string (got ${got}). ${routers}`);
    expect(error.option).toBe('router');
  });

  it('attentionRouters({ default: { router: <symbol> } }) is an InvalidOptionsError', () => {
    expect(thrown(() => attentionRouters({ default: { router: Symbol('r') } as never })).message).toBe(`An attention router is named by a string (got a symbol). ${routers}`);
    const boom = { toString: (): string => { throw new Error('toString boom'); } };
    expect(thrown(() => attentionRouters({ default: { router: boom } as never })).message).toMatch(/^An attention router is named by a string \(got an object\)/);
  });
});

describe('huge names and keys in messages', () => {
  it('an unknown router name is shortened', () => {
    const error = thrown(() => createRouter('a'.repeat(1_000_000)));
    expect(error.message.length).toBeLessThan(300);
    expect(error.message).toMatch(/^Unknown attention router "a+…"\. Routers: full, window/);
  });

  it('an unknown option key is shortened', () => {
    const error = thrown(() => createRouter('window', { ['k'.repeat(1_000_000)]: 1 }));
    expect(error.message.length).toBeLessThan(600);
    expect(error.message).toMatch(/^Router "window": unknown option "k+…"\. Valid options: budget/);
    expect(error.message.length - error.message.indexOf('. Valid options')).toBeLessThan(300);
  });
});

describe('content-aware budget', () => {
  it('lists the minimum it checks', () => {
    const error = thrown(() => createRouter('content-aware', { budget: 1 }));
    expect(error.message).toMatch(/^Router "content-aware": option "budget" must be integer >= 2 \(got 1\)\. Valid options: budget \(integer >= 2: tokens kept/);
    expect(error.option).toBe('router.budget');
    expect(createRouter('content-aware', { budget: 2 }).budget).toBe(2);
  });
});

describe('budgets past the safe-integer range', () => {
  const max = Number.MAX_SAFE_INTEGER;
  it.each([
    ['sink-window', { sinks: max, window: max }, `sinks (${max}) + window (${max})`],
    ['sink-window', { window: max }, `sinks (4) + window (${max})`],
    ['heavy-hitter', { recent: max, heavy: max }, `recent (${max}) + heavy (${max})`],
    ['heavy-hitter', { heavy: max }, `recent (${max}) + heavy (${max})`],
  ])('%s %j is refused', (name, options, parts) => {
    const error = thrown(() => createRouter(name, options));
    expect(error.message).toContain(`${parts} make a budget above ${max}, the largest exact integer; give smaller values. Valid options:`);
    expect(error.option).toBe('router.budget');
  });

  it('parts that add up to a safe integer are taken', () => {
    expect(createRouter('sink-window', { sinks: 1, window: max - 1 }).budget).toBe(max);
  });
});

describe('a revoked proxy as options', () => {
  it('is an InvalidOptionsError everywhere', () => {
    const revoked = (): object => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return proxy;
    };
    expect(thrown(() => attentionRouters(revoked() as never)).message).toMatch(/^attentionRouters options could not be read: /);
    expect(thrown(() => attentionRouters({ default: revoked() as never })).message).toMatch(/^default could not be read: /);
    expect(thrown(() => slidingWindow(revoked() as never)).message).toMatch(/^default.options could not be read: /);
    expect(thrown(() => createRouter('window', revoked())).message).toMatch(/^Options of router "window" could not be read: /);
  });
});
