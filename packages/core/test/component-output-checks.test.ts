import { afterAll, describe, expect, it } from 'vitest';
import {
  AdapterResolutionError,
  BackendError,
  definePlugin,
  FullPrecisionKvStore,
  InvalidOptionsError,
  PluginError,
  type AttentionRouter,
  type BackendTensor,
  type KvCacheStore,
  type KvLayout,
  type WeftModel,
} from '../src/index.js';
import { collect, done, fixture, kvLayout, runtime, wrappedNodeBackend } from './helpers.js';

// What core does with what stores and routers return: malformed values fail as a PluginError that
// names the component (never a TypeError, nor a BackendError that would send failover elsewhere).

const runtimes: ReturnType<typeof runtime>[] = [];
afterAll(() => Promise.all(runtimes.map((w) => w.dispose())));

async function tiny(plugins: Parameters<typeof runtime>[0] = [], backend?: string): Promise<WeftModel> {
  const weft = runtime(plugins);
  runtimes.push(weft);
  return weft.load(fixture('tiny'), backend === undefined ? {} : { backend });
}

/** The error a generation run ends with (undefined when it succeeds). */
async function failure(model: WeftModel, request: Parameters<WeftModel['generate']>[0]): Promise<unknown> {
  return collect(model.generate(request)).then(
    () => undefined,
    (e: unknown) => e,
  );
}

/** A full-precision store (name `bad`) with members replaced. */
function badStore(over: Record<string, unknown>): KvCacheStore {
  const store = new FullPrecisionKvStore();
  Object.defineProperty(store, 'name', { value: 'bad' });
  for (const [key, value] of Object.entries(over)) Object.defineProperty(store, key, { value, configurable: true });
  return store;
}

const router = (select: () => unknown, name = 'r'): AttentionRouter => ({ specificationVersion: 'v1', name, select: select as AttentionRouter['select'] });

describe('router selections', () => {
  const malformed: [string, unknown, RegExp][] = [
    ['a string', 'x', /it is "x", not a selection object/],
    ['a number', 5, /it is 5, not a selection object/],
    ['false', false, /it is false, not a selection object/],
    ['an array', [0, 1], /it is an array, not a selection object/],
    ['an empty object', {}, /its kind is undefined, not 'shared' or 'per-head'/],
    ['an unknown kind', { kind: 'bogus', slots: [0] }, /its kind is "bogus"/],
    ['shared without slots', { kind: 'shared' }, /its slots are undefined, not an array of slot indices/],
    ['shared with string slots', { kind: 'shared', slots: 'ab' }, /its slots are "ab"/],
    ['shared with a fractional slot', { kind: 'shared', slots: [0.5] }, /slot 0.5 is not an integer slot index/],
    ['shared with a string slot', { kind: 'shared', slots: ['1'] }, /slot "1" is not an integer slot index/],
    ['per-head with null lists', { kind: 'per-head', slots: [null, null] }, /a per-head list is null, not an array/],
    ['per-head without slots', { kind: 'per-head' }, /its slots are undefined, not one array of slot indices per key\/value head/],
    ['per-head with too few lists', { kind: 'per-head', slots: [[0]] }, /1 lists for 2 key\/value heads/],
  ];
  it.each(malformed)('names the router that returns %s, and says what a valid selection is', async (_what, selection, problem) => {
    const model = await tiny();
    const error = await failure(model, { prompt: 'Once upon a time', maxTokens: 3, router: router(() => selection) });
    expect(PluginError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ plugin: 'request', stage: 'router "r" select' });
    const message = (error as Error).message;
    expect(message).toMatch(/select\(\) returned an invalid selection/);
    expect(message).toMatch(problem);
    expect(message).toMatch(/Return undefined to keep every slot, \{ kind: 'shared', slots \}.*\{ kind: 'per-head', slots \} with one such list per key\/value head \(2\)/);
  });

  it('names the plugin whose registered router returns a malformed selection, in evaluate too', async () => {
    const model = await tiny([
      definePlugin({
        name: 'bad-routers',
        version: '1.0.0',
        apiVersion: '^0.1.0',
        setup: (ctx) => ctx.register('attention-router', { name: 'garbage', create: () => router(() => ({ kind: 'shared', slots: null }), 'garbage') }),
      }),
    ]);
    const error = await failure(model, { prompt: 'Once upon a time', maxTokens: 3, router: 'garbage' });
    expect(error).toMatchObject({ plugin: 'bad-routers', stage: 'router "garbage" select' });
    const evaluation = await model.evaluate({ inputIds: [1, 40, 50, 60], router: 'garbage' }).catch((e: unknown) => e);
    expect(evaluation).toMatchObject({ plugin: 'bad-routers', stage: 'router "garbage" select' });
    expect((evaluation as Error).message).toMatch(/its slots are null/);
  });

  it('names the router when reading its selection throws, and still rejects a promise', async () => {
    const model = await tiny();
    const hostile = { get kind(): never { throw new Error('kind getter'); } };
    const thrown = await failure(model, { prompt: 'Once', maxTokens: 3, router: router(() => hostile) });
    expect(thrown).toMatchObject({ plugin: 'request', stage: 'router "r" select' });
    expect((thrown as Error).message).toMatch(/kind getter/);
    const promised = await failure(model, { prompt: 'Once', maxTokens: 3, router: router(async () => undefined) });
    expect((promised as Error).message).toMatch(/returned a promise/);
  });

  it('keeps every slot for undefined or null, and accepts a valid selection', async () => {
    const model = await tiny();
    const plain = done(await collect(model.generate({ prompt: 'Once upon a time', maxTokens: 6 })));
    for (const keep of [undefined, null]) {
      const routed = done(await collect(model.generate({ prompt: 'Once upon a time', maxTokens: 6, router: router(() => keep) })));
      expect(routed.rows[0]!.ids).toEqual(plain.rows[0]!.ids);
    }
    const last2 = router(() => undefined);
    last2.select = ({ cacheLength, layout }) =>
      cacheLength <= 2 ? undefined : { kind: 'per-head', slots: Array.from({ length: layout.numKvHeads }, () => [cacheLength - 2, cacheLength - 1]) };
    expect(done(await collect(model.generate({ prompt: 'Once upon a time', maxTokens: 6, router: last2 }))).kvBytes).toBe(2 * 2 * 2 * 2 * 8 * 4);
  });
});

describe('KV store results', () => {
  const malformed: [string, () => unknown, RegExp][] = [
    ['{}', () => ({}), /returned no tensor for "past_key_values\.0\.key" from materialize\(\)/],
    ['null', () => null, /returned null from materialize\(\)/],
    ['a string', () => 'feeds', /returned "feeds" from materialize\(\)/],
    ['a number for a tensor', () => ({ 'past_key_values.0.key': 5 }), /returned 5 for "past_key_values\.0\.key"/],
    ['an object that is not a tensor', () => ({ 'past_key_values.0.key': {} }), /returned an object for "past_key_values\.0\.key"/],
  ];
  it.each(malformed)('names the store whose materialize() returns %s, instead of blaming the backend', async (_what, materialize, problem) => {
    const model = await tiny();
    const error = await failure(model, { prompt: 'Once', maxTokens: 3, kv: badStore({ materialize }) });
    expect(BackendError.isInstance(error)).toBe(false);
    expect(PluginError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ plugin: 'request', stage: 'kv materialize' });
    expect((error as Error).message).toMatch(/the KV store "bad"/);
    expect((error as Error).message).toMatch(problem);
    expect((error as Error).message).toMatch(/it must return an object holding a tensor for each past input \(past_key_values\.0\.key, past_key_values\.0\.value, …/);
  });

  it('checks every past input on every step', async () => {
    const model = await tiny();
    // Drops a value tensor from the start: found by the full check after begin.
    const dropsValue = badStore({});
    const full = dropsValue.materialize.bind(dropsValue);
    Object.defineProperty(dropsValue, 'materialize', { value: () => ({ ...full(), 'past_key_values.1.value': undefined }) });
    const first = await failure(model, { prompt: 'Once', maxTokens: 3, kv: dropsValue });
    expect(first).toMatchObject({ plugin: 'request', stage: 'kv materialize' });
    expect((first as Error).message).toMatch(/returned no tensor for "past_key_values\.1\.value"/);
    // Valid on the first steps, without the last layer's value from the third: the backend was blamed.
    let calls = 0;
    const later = badStore({});
    const real = later.materialize.bind(later);
    Object.defineProperty(later, 'materialize', { value: () => (++calls >= 3 ? { ...real(), 'past_key_values.1.value': undefined } : real()) });
    const error = await failure(model, { prompt: 'Once', maxTokens: 6, kv: later });
    expect(BackendError.isInstance(error)).toBe(false);
    expect(error).toMatchObject({ plugin: 'request', stage: 'kv materialize' });
    expect((error as Error).message).toMatch(/returned no tensor for "past_key_values\.1\.value" from materialize\(\); it must be \[1, 2, \d+, 8\]/);
    expect(calls).toBe(3);
  });

  it('names the store whose tensors disagree with its length or the layout, on any step', async () => {
    const model = await tiny();
    // One position more than its tensors hold, from the third step: a graph that broadcasts ran it.
    let steps = 0;
    const longer = badStore({});
    const length = Object.getOwnPropertyDescriptor(FullPrecisionKvStore.prototype, 'length')!.get!;
    const materialize = longer.materialize.bind(longer);
    Object.defineProperty(longer, 'materialize', { value: () => (steps++, materialize()) });
    Object.defineProperty(longer, 'length', { get: () => (length.call(longer) as number) + (steps >= 2 ? 1 : 0) });
    const error = await failure(model, { prompt: 'Once', maxTokens: 6, kv: longer });
    expect(BackendError.isInstance(error)).toBe(false);
    expect(error).toMatchObject({ plugin: 'request', stage: 'kv materialize' });
    expect((error as Error).message).toMatch(
      /the KV store "bad" returned a tensor of dims \[1, 2, (\d+), 8\] for "past_key_values\.0\.key" from materialize\(\); it must be \[1, 2, (\d+), 8\] \(\[batch, key\/value heads, the store's length, head dim\]\)/,
    );
    const [, got, want] = /dims \[1, 2, (\d+), 8\].*must be \[1, 2, (\d+), 8\]/.exec((error as Error).message)!;
    expect(Number(want)).toBe(Number(got) + 1);
    // A tensor of another head count, from the second step.
    steps = 0;
    const heads = badStore({});
    const own = heads.materialize.bind(heads);
    Object.defineProperty(heads, 'materialize', {
      value: () => {
        const feeds = own();
        if (steps++ === 0) return feeds;
        const key = feeds['past_key_values.1.key']!;
        const [b, h, t, d] = key.dims as [number, number, number, number];
        return { ...feeds, 'past_key_values.1.key': { type: 'float32', dims: [b, h * 2, t, d], data: new Float32Array(b * h * 2 * t * d), dispose() {} } };
      },
    });
    const wrongHeads = await failure(model, { prompt: 'Once', maxTokens: 6, kv: heads });
    expect(wrongHeads).toMatchObject({ plugin: 'request', stage: 'kv materialize' });
    expect((wrongHeads as Error).message).toMatch(/dims \[1, 4, \d+, 8\] for "past_key_values\.1\.key"/);
  });

  it('checks the feeds in evaluate too', async () => {
    const model = await tiny();
    const error = await model.evaluate({ inputIds: [1, 40, 50, 60], kv: badStore({ materialize: () => ({}) }) }).catch((e: unknown) => e);
    expect(error).toMatchObject({ plugin: 'request', stage: 'kv materialize' });
  });

  it.each([
    ['NaN', Number.NaN, /has length NaN/],
    ['negative', -1, /has length -1/],
    ['fractional', 1.5, /has length 1\.5/],
    ['a string', '3', /has length "3"/],
  ])('names the store whose length is %s', async (_what, length, problem) => {
    const model = await tiny();
    const error = await failure(model, { prompt: 'Once', maxTokens: 3, kv: badStore({ length }) });
    expect(error).toMatchObject({ plugin: 'request', stage: 'kv length' });
    expect((error as Error).message).toMatch(problem);
    expect((error as Error).message).toMatch(/the KV store "bad" .*it must be the number of cached positions, an integer ≥ 0/);
  });
});

describe('specification versions', () => {
  it('rejects a request store or router that declares another specificationVersion', async () => {
    const model = await tiny();
    const store = await failure(model, { prompt: 'Once', maxTokens: 3, kv: badStore({ specificationVersion: 'v2' }) });
    expect(PluginError.isInstance(store)).toBe(true);
    expect(store).toMatchObject({ plugin: 'request', stage: 'kv-cache "bad"' });
    expect((store as Error).message).toMatch(/implements specificationVersion "v2", but this version of @weft\/core supports "v1" only/);
    const routed = await failure(model, { prompt: 'Once', maxTokens: 3, router: { ...router(() => undefined), specificationVersion: 'v0' as 'v1' } });
    expect(routed).toMatchObject({ plugin: 'request', stage: 'attention-router "r"' });
  });

  it('rejects a registered store of another specificationVersion, naming its plugin', async () => {
    const model = await tiny([
      definePlugin({
        name: 'future-kv',
        version: '1.0.0',
        apiVersion: '^0.1.0',
        setup: (ctx) => ctx.register('kv-cache', { name: 'next', create: () => badStore({ specificationVersion: 'v2' }) }),
      }),
    ]);
    const error = await failure(model, { prompt: 'Once', maxTokens: 3, kv: 'next' });
    expect(error).toMatchObject({ plugin: 'future-kv', stage: 'kv-cache "bad"' });
  });

  it('accepts a store or router that declares no specificationVersion', async () => {
    const model = await tiny();
    const store = badStore({ specificationVersion: undefined });
    const plain = { name: 'plain', select: () => undefined } as unknown as AttentionRouter;
    expect(done(await collect(model.generate({ prompt: 'Once', maxTokens: 3, kv: store, router: plain }))).kvBytes).toBeGreaterThan(0);
  });

  it('says what an object meant as an instance lacks, instead of looking it up by name', async () => {
    const model = await tiny();
    const noSelect = await failure(model, { prompt: 'Once', maxTokens: 3, router: { specificationVersion: 'v1', name: 'r' } as unknown as AttentionRouter });
    expect(InvalidOptionsError.isInstance(noSelect)).toBe(true);
    expect((noSelect as Error).message).toMatch(/The attention-router "r" passed in the request \(router\) is not a valid attention-router: it needs a select\(\) method/);
    const noAppend = await failure(model, { prompt: 'Once', maxTokens: 3, kv: { specificationVersion: 'v1', name: 'k', begin() {}, materialize: () => ({}) } as unknown as KvCacheStore });
    expect(noAppend).toMatchObject({ option: 'kv' });
    expect((noAppend as Error).message).toMatch(/The kv-cache "k" passed in the request \(kv\) is not a valid kv-cache: it needs begin\(\), materialize\(\), append\(\)/);
    // A plain { name } is still a reference to a registered entry.
    const named = await failure(model, { prompt: 'Once', maxTokens: 3, router: { name: 'nowhere' } });
    expect(InvalidOptionsError.isInstance(named)).toBe(true);
    expect(named).toMatchObject({ option: 'router' });
    expect(AdapterResolutionError.isInstance((named as Error).cause)).toBe(true);
  });
});

/** A layout of `layers` layers with 2 key/value heads of 8 values. */
const layout = (layers = 2): KvLayout => kvLayout({ layers, kvHeads: 2, headDim: 8 });

const tensor = (dims: readonly number[]): BackendTensor => ({ type: 'float32', dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)), dispose() {} });
const session = { createTensor: (_type: string, _data: unknown, dims: readonly number[]) => tensor(dims) } as never;

/** Every present of a 2-layer layout with `dims`, except those in `except`. */
function presents(dims: readonly number[], except: Record<string, readonly number[]> = {}): Record<string, BackendTensor> {
  const all: Record<string, BackendTensor> = {};
  for (const name of ['present.0.key', 'present.0.value', 'present.1.key', 'present.1.value']) all[name] = tensor(except[name] ?? dims);
  return all;
}

describe('the full-precision store checks present shapes', () => {
  const begun = (batchSize = 1): FullPrecisionKvStore => {
    const store = new FullPrecisionKvStore();
    store.begin({ layout: layout(), batchSize, session });
    return store;
  };

  it.each([
    ['more heads than the config', [1, 5, 3, 8], /present\.0\.key has dims \[1, 5, 3, 8\]; expected \[1, 2, ≥0, 8\]/],
    ['another head size', [1, 2, 3, 4], /present\.0\.key has dims \[1, 2, 3, 4\]; expected \[1, 2, ≥0, 8\]/],
    ['another batch', [2, 2, 3, 8], /present\.0\.key has dims \[2, 2, 3, 8\]; expected \[1, 2, ≥0, 8\]/],
    ['rank 3', [1, 2, 24], /present\.0\.key has dims \[1, 2, 24\]; expected \[1, 2, ≥0, 8\]/],
  ])('rejects presents with %s', (_what, dims, message) => {
    expect(() => begun().append(presents(dims))).toThrow(message);
  });

  it('rejects presents shorter than the cache and presents that disagree on length', () => {
    const store = begun();
    store.append(presents([1, 2, 4, 8]));
    expect(store.length).toBe(4);
    expect(() => store.append(presents([1, 2, 3, 8]))).toThrow(/present\.0\.key has dims \[1, 2, 3, 8\]; expected \[1, 2, ≥4, 8\]/);
    expect(() => store.append(presents([1, 2, 5, 8], { 'present.1.value': [1, 2, 6, 8] }))).toThrow(/present tensors disagree on length \(6 vs 5\)/);
    // A failed append leaves the cache as it was.
    expect(store.length).toBe(4);
    store.append(presents([1, 2, 5, 8]));
    expect(store.length).toBe(5);
  });

  it('fails generate and evaluate with a BackendError when a backend returns no logits', async () => {
    const noLogits = wrappedNodeBackend({
      name: 'no-logits',
      priority: 100,
      afterRun: (outputs) => void delete (outputs as Record<string, BackendTensor>)['logits'],
    });
    const model = await tiny([noLogits], 'no-logits');
    const generated = await failure(model, { prompt: 'Once upon a time', maxTokens: 1 });
    expect(BackendError.isInstance(generated)).toBe(true);
    expect((generated as Error).message).toBe('The model did not return "logits".');
    const ids = model.tokenizer.encode('Once upon a time there was a fox');
    const evaluated = await model.evaluate({ inputIds: ids }).catch((e: unknown) => e);
    expect(BackendError.isInstance(evaluated)).toBe(true);
    expect((evaluated as Error).message).toBe('The model did not return "logits".');
  });

  it('fails a run whose graph returns more key/value heads than its config, naming the shapes', async () => {
    // The node backend, with every present.* widened to 5 heads (as a graph exported with another config would).
    const widened = wrappedNodeBackend({
      name: 'five-heads',
      priority: 100,
      afterRun: (outputs) => {
        const writable = outputs as Record<string, BackendTensor>;
        for (const name of Object.keys(writable)) {
          const [b, , t, d] = writable[name]!.dims;
          if (name.startsWith('present.')) writable[name] = { type: 'float32', dims: [b!, 5, t!, d!], data: new Float32Array(b! * 5 * t! * d!), dispose() {} };
        }
      },
    });
    const model = await tiny([widened], 'five-heads');
    expect(model.backend).toBe('five-heads');
    const error = await failure(model, { prompt: 'Once upon a time', maxTokens: 1 });
    expect(PluginError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ plugin: '@weft/core', stage: 'kv append' });
    expect((error as Error).message).toMatch(/present\.0\.key has dims \[1, 5, \d+, 8\]; expected \[1, 2, ≥0, 8\]: the graph's key\/value heads or head size disagree with config\.json \(num_key_value_heads, head_dim\)/);
  });
});
