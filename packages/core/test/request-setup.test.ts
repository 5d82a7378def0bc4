/**
 * What a request's setup reuses from earlier requests: the zero-length first-step past (per
 * session and batch size) and the runtime's default store and router entries (per registry
 * revision). Reuse must never leak state between runs or miss a registration.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { DefaultAdapterRegistry, FullPrecisionKvStore, definePlugin, type AttentionRouter, type BackendTensor, type KvLayout, type TensorDataType, type TensorDataTypeMap } from '../src/index.js';
import { collect, done, fixture, kvLayout, runtime } from './helpers.js';

const layout: KvLayout = kvLayout({ layers: 2, kvHeads: 2, headDim: 4 });

function trackingSession() {
  const made: (BackendTensor & { disposed: boolean })[] = [];
  return {
    made,
    createTensor<T extends TensorDataType>(type: T, data: TensorDataTypeMap[T], dims: readonly number[]): BackendTensor<T> {
      const t = { type, data, dims: [...dims], disposed: false, dispose: () => void (t.disposed = true) };
      made.push(t as never);
      return t;
    },
  };
}

describe('the shared zero-length past', () => {
  it('is made once per session and batch size, fed by every run, and never disposed', () => {
    const session = trackingSession();
    const a = new FullPrecisionKvStore();
    const b = new FullPrecisionKvStore();
    a.begin({ layout, batchSize: 1, session });
    b.begin({ layout, batchSize: 1, session });
    expect(session.made).toHaveLength(4);
    const first = a.materialize();
    expect(b.materialize()).toBe(first);
    expect(first['past_key_values.1.value']!.dims).toEqual([1, 2, 0, 4]);

    // Appending replaces the past without disposing the shared tensors; so does dispose().
    const present = (len: number) => session.createTensor('float32', new Float32Array(2 * len * 4), [1, 2, len, 4]);
    a.append({ 'present.0.key': present(3), 'present.1.key': present(3), 'present.0.value': present(3), 'present.1.value': present(3) });
    expect(a.length).toBe(3);
    b.dispose();
    a.dispose();
    expect(session.made.slice(0, 4).every((t) => !t.disposed)).toBe(true);
    expect(session.made.slice(4).every((t) => t.disposed)).toBe(true);

    // Another batch size or another session gets its own set.
    a.begin({ layout, batchSize: 2, session });
    expect(a.materialize()['past_key_values.0.key']!.dims).toEqual([2, 2, 0, 4]);
    const other = trackingSession();
    b.begin({ layout, batchSize: 1, session: other });
    expect(other.made).toHaveLength(4);
    expect(Object.isFrozen(b.materialize())).toBe(true);
  });
});

describe('default components', () => {
  const weft = runtime([]);
  afterAll(() => weft.dispose());

  it('gives each run a new store instance', async () => {
    const stores: unknown[] = [];
    const spy = definePlugin({
      name: 'spy-store',
      version: '1.0.0',
      apiVersion: '^0.1.0',
      setup(ctx) {
        ctx.register('kv-cache', {
          name: 'spy',
          capabilities: ['default'],
          create: () => {
            const store = new FullPrecisionKvStore();
            stores.push(store);
            return store;
          },
        });
      },
    });
    const own = runtime([spy]);
    const model = await own.load(fixture('tiny'));
    await collect(model.generate({ prompt: 'a', maxTokens: 2 }));
    await collect(model.generate({ prompt: 'a', maxTokens: 2 }));
    expect(stores).toHaveLength(2);
    expect(stores[0]).not.toBe(stores[1]);
    await own.dispose();
  });

  it('follows a default registered after the first request', async () => {
    const model = await weft.load(fixture('tiny'));
    const first = done(await collect(model.generate({ prompt: 'Once upon a time, there was', maxTokens: 6 })));
    expect(first.kvBytes).toBeGreaterThan(4 * 2 * 2 * 2 * 8 * 4);
    const revision = weft.registry.revision;
    weft.registry.register('attention-router', {
      name: 'keep-last-4',
      capabilities: ['default'],
      create: (): AttentionRouter => ({
        specificationVersion: 'v1',
        name: 'keep-last-4',
        select: ({ cacheLength }) => (cacheLength <= 4 ? undefined : { kind: 'shared', slots: [0, 1, 2, 3].map((i) => cacheLength - 4 + i) }),
      }),
    });
    expect(weft.registry.revision).toBeGreaterThan(revision!);
    const second = done(await collect(model.generate({ prompt: 'Once upon a time, there was', maxTokens: 6 })));
    expect(second.kvBytes).toBe(4 * 2 * 2 * 2 * 8 * 4);
  });

  it('counts registrations in the registry revision', () => {
    const registry = new DefaultAdapterRegistry();
    expect(registry.revision).toBe(0);
    registry.register('kv-cache', { name: 'x', create: () => new FullPrecisionKvStore() });
    expect(registry.revision).toBe(1);
    expect(() => registry.register('kv-cache', { name: 'x', create: () => new FullPrecisionKvStore() })).toThrow(/already registered/);
    expect(registry.revision).toBe(1);
  });
});

describe('step order', () => {
  it('emits a step’s tokens before the store takes its keys and values', async () => {
    const order: string[] = [];
    const store = new FullPrecisionKvStore();
    const append = store.append.bind(store);
    store.append = (presents) => {
      order.push('append');
      append(presents);
    };
    const weft = runtime([]);
    const model = await weft.load(fixture('tiny'));
    await new Promise<void>((resolve, reject) =>
      model.generate({ prompt: 'Once upon', maxTokens: 3, kv: store, metrics: false }).subscribe({
        next: (e) => {
          if (e.type === 'token') order.push('token');
        },
        complete: resolve,
        error: reject,
      }),
    );
    expect(order).toEqual(['token', 'append', 'token', 'append', 'token', 'append']);
    await weft.dispose();
  });
});
