/**
 * How a run reads its request: once, at its start, field by field and list item by list item (see
 * generation/read-request.ts). Each case is a request-fuzz finding (request-fuzz.test.ts), kept
 * here as a fixed regression test: a read that throws (getter, proxy trap) is an
 * InvalidOptionsError naming what could not be read, holes are no values, a value that changes
 * between reads cannot slip past the checks, components are named once, and a store whose slot
 * positions disagree with its length is blamed instead of the backend.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FullPrecisionKvStore, InvalidOptionsError, PluginError, type AttentionRouter, type GenerationRequest, type KvCacheStore, type PerplexityRequest, type WeftModel } from '../src/index.js';
import { collect, done, fixture, runtime } from './helpers.js';

const weft = runtime();
let model: WeftModel;
beforeAll(async () => {
  model = await weft.load(fixture('tiny'));
});
afterAll(() => weft.dispose());

const failure = (request: unknown): Promise<unknown> => collect(model.generate(request as GenerationRequest)).then(() => undefined, (e: unknown) => e);
const evaluateFailure = (request: unknown): Promise<unknown> => model.evaluate(request as PerplexityRequest).then(() => undefined, (e: unknown) => e);

function getterThatThrows<T extends object>(target: T, key: string): T {
  return Object.defineProperty(target, key, { enumerable: true, get: () => { throw new Error(`no ${key} today`); } });
}

/** A getter returning `values` one read after another (the last one from then on), and how often it was read. */
function readsOf<T extends object>(target: T, key: string, ...values: unknown[]): { target: T; reads: () => number } {
  let reads = 0;
  Object.defineProperty(target, key, { enumerable: true, get: () => values[Math.min(reads++, values.length - 1)] });
  return { target, reads: () => reads };
}

/** Expects an InvalidOptionsError for `option` whose message matches `message`. */
function expectInvalid(error: unknown, option: string, message: RegExp): void {
  expect(InvalidOptionsError.isInstance(error), String(error)).toBe(true);
  expect(error).toMatchObject({ option });
  expect((error as Error).message).toMatch(message);
}

describe('a request whose reads throw', () => {
  it('is an InvalidOptionsError naming the field whose getter threw, with the thrown error as cause', async () => {
    const error = await failure(getterThatThrows({ prompt: 'Once' }, 'maxTokens'));
    expectInvalid(error, 'maxTokens', /^maxTokens could not be read: no maxTokens today$/);
    expect(((error as Error).cause as Error).message).toBe('no maxTokens today');
  });

  it('is an InvalidOptionsError when the request is a proxy whose keys cannot be read', async () => {
    const request = new Proxy({ prompt: 'Once' }, { ownKeys: () => { throw new Error('keys refused'); } });
    expectInvalid(await failure(request), 'request', /^The keys of the generation request could not be read: keys refused$/);
  });

  it('names the list and the item whose read threw: prompts, ids, messages, stop strings', async () => {
    expectInvalid(await failure({ prompt: getterThatThrows(['a', 'b'], '1') }), 'prompt', /^prompt\[1\] could not be read: no 1 today$/);
    expectInvalid(await failure({ inputIds: getterThatThrows([1, 5, 6], '2') }), 'inputIds', /^inputIds\[2\] could not be read: no 2 today$/);
    expectInvalid(await failure({ messages: [getterThatThrows({ role: 'user' }, 'content')] }), 'messages', /^a message could not be read: no content today$/);
    expectInvalid(await failure({ prompt: 'Once', stop: getterThatThrows(['.'], '0') }), 'stop', /^stop\[0\] could not be read: no 0 today$/);
  });

  it('names a signal whose aborted getter throws', async () => {
    expectInvalid(await failure({ prompt: 'Once', signal: getterThatThrows({}, 'aborted') }), 'signal', /^signal\.aborted could not be read: no aborted today$/);
    expectInvalid(await evaluateFailure({ inputIds: [1, 5, 6], signal: getterThatThrows({}, 'aborted') }), 'signal', /^signal\.aborted could not be read/);
  });

  it('names a component the request passes that cannot be inspected', async () => {
    const exploding = new Proxy({}, { get: () => { throw new Error('trap refused'); }, has: () => { throw new Error('trap refused'); } });
    expectInvalid(await failure({ prompt: 'Once', processors: [exploding] }), 'processors[0]', /^The logits-processor passed as processors\[0\] could not be read: trap refused$/);
    expectInvalid(await failure({ prompt: 'Once', kv: exploding }), 'kv', /^The kv-cache passed as kv could not be read: trap refused$/);
  });

  it('reads evaluate requests the same way', async () => {
    expectInvalid(await evaluateFailure(getterThatThrows({ inputIds: [1, 5, 6] }, 'prefillTokens')), 'prefillTokens', /^prefillTokens could not be read: no prefillTokens today$/);
    expectInvalid(await evaluateFailure({ inputIds: getterThatThrows([1, 5, 6], '1') }), 'inputIds', /^inputIds\[1\] could not be read: no 1 today$/);
  });
});

describe('holes in a request’s lists', () => {
  it('are no prompt, no component and no stop string', async () => {
    // eslint-disable-next-line no-sparse-arrays
    expectInvalid(await failure({ prompt: ['Once', , 'Tom'] }), 'prompt', /^prompt must be a string or an array of strings\.$/);
    // eslint-disable-next-line no-sparse-arrays
    expectInvalid(await failure({ messages: [{ role: 'user', content: 'Hi' }, , { role: 'user', content: 'Yo' }] }), 'messages', /^messages must be a list of \{ role, content \}/);
    // eslint-disable-next-line no-sparse-arrays
    expectInvalid(await failure({ prompt: 'Once', processors: [, { name: 'p', process() {} }] }), 'processors[0]', /^A logits-processor \(processors\[0\]\) must be a registered name, \{ name, options \}, or an instance \(got nothing\)/);
  });

  it('are named as missing ids in evaluate, and a missing inputIds says what evaluate needs', async () => {
    // eslint-disable-next-line no-sparse-arrays
    expectInvalid(await evaluateFailure({ inputIds: [1, , 40] }), 'inputIds', /\(inputIds\[1\] is missing: the array has a hole there\)/);
    expectInvalid(await evaluateFailure({}), 'inputIds', /^evaluate needs inputIds, the token ids to score/);
  });
});

describe('values that change between reads', () => {
  it('are read once per run: every field of the request, by one getter call each', async () => {
    const prompt = readsOf({}, 'prompt', 'Once', 5);
    const maxTokens = readsOf(prompt.target, 'maxTokens', 2, 'many');
    const events = await collect(model.generate(maxTokens.target as GenerationRequest));
    expect(done(events).rows[0]!.ids).toHaveLength(2);
    expect([prompt.reads(), maxTokens.reads()]).toEqual([1, 1]);
  });

  it('take a list’s length once: an id list that shrinks after it was checked feeds what was checked', async () => {
    // (Growing instead, to 1e9, made the copy of the checked row take over a minute.)
    let lengthReads = 0;
    const ids = new Proxy([1, 5, 6], { get: (target, key) => (key === 'length' ? (lengthReads++ === 0 ? 3 : 2) : Reflect.get(target, key)) });
    const events = await collect(model.generate({ inputIds: ids, maxTokens: 1 }));
    const start = events[0]!;
    expect(start.type === 'start' && start.promptIds).toEqual([[1, 5, 6]]);
    expect(lengthReads).toBe(1);
  });

  it('check the copy a run uses: a message whose content turns into a number renders as checked', async () => {
    const message = readsOf({ role: 'user' }, 'content', 'Hi', 7);
    const events = await collect(model.generate({ messages: [message.target as never], maxTokens: 1 }));
    expect(done(events).rows).toHaveLength(1);
    expect(message.reads()).toBe(1);
  });

  it('refuse an id row as long as the context before reading its ids', async () => {
    let reads = 0;
    const ids = new Proxy(new Array<number>(1_000_000), { get: (target, key) => (key === 'length' ? Reflect.get(target, key) : (reads++, 1)) });
    const error = await failure({ inputIds: ids });
    expect(error).toMatchObject({ name: 'ContextOverflowError', promptTokens: 1_000_000 });
    expect(reads).toBe(1); // the first item, to tell one row from a batch
  });
});

describe('component names', () => {
  it('are required of the instances a request passes, which otherwise were named "undefined" in errors', async () => {
    const nameless = { process() { throw new Error('processor failed'); } };
    expectInvalid(await failure({ prompt: 'Once', processors: [nameless] }), 'processors[0]', /^The logits-processor passed in the request \(processors\[0\]\) has no name; give it a string name/);
    expectInvalid(await failure({ prompt: 'Once', sampler: { name: 5, sample: () => 0 } }), 'sampler', /\(sampler\) has the name 5; give it a string name/);
    const store = Object.assign(new FullPrecisionKvStore(), { name: undefined }) as unknown as KvCacheStore;
    expectInvalid(await failure({ prompt: 'Once', kv: store }), 'kv', /\(kv\) has no name/);
  });

  it('are read once, when the run starts: stage names and analysis events use that name', async () => {
    let nameReads = 0;
    const analyzer = { get name() { return nameReads++ === 0 ? 'steps' : 'renamed'; }, observe: ({ step }: { step: number }) => step };
    const events = await collect(model.generate({ prompt: 'Once', maxTokens: 3, ignoreEos: true, analyzers: [analyzer] }));
    expect(events.filter((e) => e.type === 'analysis').map((e) => e.type === 'analysis' && e.analyzer)).toEqual(['steps', 'steps', 'steps']);
    expect(nameReads).toBe(1);
  });
});

describe('a store whose slot positions disagree with its length', () => {
  /** The default store, reporting `positions` as its slots. */
  const storeWith = (positions: () => unknown): KvCacheStore => Object.assign(new FullPrecisionKvStore(), { slotPositions: positions }) as KvCacheStore;
  const keepAll: AttentionRouter = { specificationVersion: 'v1', name: 'keep-all', select: () => undefined };

  it('is a PluginError naming the store, not a BackendError from a mask of the wrong size', async () => {
    for (const positions of [[], [[0]], 'abc', [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'x']]) {
      const generated = await failure({ inputIds: [1, 5, 6], maxTokens: 3, kv: storeWith(() => positions), router: keepAll });
      expect(PluginError.isInstance(generated), String(generated)).toBe(true);
      expect(generated).toMatchObject({ plugin: 'request', stage: 'kv slotPositions' });
      expect((generated as Error).message).toMatch(/the KV store "fp32" returned .* from slotPositions\(\); it must return one list per key\/value head \(2\)/);
      const evaluated = await evaluateFailure({ inputIds: [1, 5, 6, 7], kv: storeWith(() => positions) });
      expect(evaluated).toMatchObject({ name: 'PluginError', stage: 'kv slotPositions' });
    }
  });

  it('still serves a run when its lists are typed arrays of the right length', async () => {
    const store = new FullPrecisionKvStore();
    const typed = Object.assign(store, { slotPositions: () => FullPrecisionKvStore.prototype.slotPositions.call(store).map((list) => Int32Array.from(list)) }) as unknown as KvCacheStore;
    expect(done(await collect(model.generate({ inputIds: [1, 5, 6], maxTokens: 3, ignoreEos: true, kv: typed, router: keepAll }))).rows[0]!.ids).toHaveLength(3);
  });
});

describe('a store without a length', () => {
  it('is said to have none, not "length undefined"', async () => {
    const store = { specificationVersion: 'v1', name: 'lengthless', begin() {}, materialize: () => ({}), append() {}, bytes: () => 0, dispose() {} } as unknown as KvCacheStore;
    const error = await failure({ inputIds: [1, 5, 6], maxTokens: 2, kv: store });
    expect(error).toMatchObject({ name: 'PluginError', stage: 'kv length' });
    expect((error as Error).message).toBe('Plugin "request" failed in kv length: the KV store "lengthless" has no length; it must be the number of cached positions, an integer ≥ 0.');
  });
});

describe('what plugin code throws', () => {
  it('is described by its JSON when it is an object that is not an Error, not as "[object Object]"', async () => {
    const error = await failure({ prompt: 'Once', processors: [{ name: 'thrower', process() { throw { code: 'E_BUSY' }; } }] });
    expect(PluginError.isInstance(error)).toBe(true);
    expect((error as Error).message).toBe('Plugin "request" failed in logits processor "thrower": an object, not an Error ({"code":"E_BUSY"})');
  });
});
