import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionsError, type WeftModel } from '../src/index.js';
import { MAX_BATCH_ROWS, MAX_MESSAGES, MAX_STOP_CHARACTERS, MAX_STOP_LENGTH, MAX_STOPS } from '../src/generation/request-limits.js';
import { fixture, runtime } from './helpers.js';

/**
 * Lists a request reads item by item are bounded by their length before any item is read, and stop
 * strings by their size before any is encoded. Before, a proxy claiming 2**32 - 1 items made the
 * read copy items until V8 ran out of memory, and a 20 M-character stop took 13 s to encode.
 */

/** Items a {@link hugeList} gives before its reads throw (so code without the bound fails fast instead of running out of memory). */
const READ_GUARD = 200_000;

/** A list (a proxy of an array) claiming `length` items, each `item`, counting the item reads. */
function hugeList(item: unknown, length = 2 ** 32 - 1): { readonly list: unknown[]; readonly reads: () => number } {
  let reads = 0;
  const list = new Proxy([] as unknown[], {
    get: (target, key) => {
      if (key === 'length') return length;
      if (typeof key === 'string' && /^\d+$/.test(key)) {
        if (++reads > READ_GUARD) throw new Error(`read ${reads} items of a list claiming ${length}`);
        return item;
      }
      return Reflect.get(target, key) as unknown;
    },
  });
  return { list, reads: () => reads };
}

async function refused(work: Promise<unknown>, option: string, message: RegExp): Promise<void> {
  const error = await work.then(() => undefined, (e: unknown) => e);
  expect(InvalidOptionsError.isInstance(error), String(error)).toBe(true);
  expect(error).toMatchObject({ option });
  expect((error as Error).message).toMatch(message);
}

describe('request lists and stop strings are bounded', () => {
  const weft = runtime();
  let model: WeftModel;
  beforeAll(async () => {
    model = await weft.load(fixture('tiny'));
  });
  afterAll(() => weft.dispose());

  it('refuses a prompt list claiming 2**32 - 1 rows before reading one', async () => {
    const { list, reads } = hugeList('x');
    await refused(model.text({ prompt: list as string[], maxTokens: 1 }), 'prompt', /at most 4096/);
    expect(reads()).toBe(0);
  }, 5000);

  it('refuses a batch of inputIds rows or of conversations over the row bound', async () => {
    const ids = hugeList([1, 2], MAX_BATCH_ROWS + 1);
    await refused(model.text({ inputIds: ids.list as number[][], maxTokens: 1 }), 'inputIds', /rows/);
    const conversations = hugeList([{ role: 'user', content: 'hi' }], MAX_BATCH_ROWS + 1);
    await refused(model.text({ messages: conversations.list as never, maxTokens: 1 }), 'messages', /rows/);
  }, 5000);

  it('refuses a conversation claiming 2**32 - 1 messages before reading them all', async () => {
    const { list, reads } = hugeList({ role: 'user', content: 'hi' });
    await refused(model.text({ messages: list as never, maxTokens: 1 }), 'messages', new RegExp(`at most ${MAX_MESSAGES}`));
    expect(reads()).toBeLessThanOrEqual(1); // the first one tells a conversation from a batch
  }, 5000);

  it('refuses a stop list claiming 2**32 - 1 strings before reading one', async () => {
    const { list, reads } = hugeList('zz');
    await refused(model.text({ prompt: 'Once', maxTokens: 1, stop: list as string[] }), 'stop', new RegExp(`at most ${MAX_STOPS}`));
    expect(reads()).toBe(0);
  }, 5000);

  it('refuses processors and analyzers lists claiming 2**32 - 1 items', async () => {
    await refused(model.text({ prompt: 'Once', maxTokens: 1, processors: hugeList('nope').list as never }), 'processors', /at most 1024/);
    await refused(model.text({ prompt: 'Once', maxTokens: 1, analyzers: hugeList('nope').list as never }), 'analyzers', /at most 1024/);
  }, 5000);

  it('refuses a list whose length is not a whole number', async () => {
    await refused(model.text({ prompt: hugeList('x', 1.5).list as string[], maxTokens: 1 }), 'prompt', /length/);
    await refused(model.text({ prompt: 'Once', maxTokens: 1, stop: hugeList('zz', -1).list as string[] }), 'stop', /length/);
  }, 5000);

  it('refuses an over-long stop string at once instead of encoding it', async () => {
    const started = performance.now();
    await refused(model.text({ prompt: 'Once', maxTokens: 1, stop: ['x'.repeat(20_000_000)] }), 'stop', new RegExp(`at most ${MAX_STOP_LENGTH}`));
    expect(performance.now() - started).toBeLessThan(1000);
  }, 5000);

  it('refuses stop strings over the total bound, and takes ones within both bounds', async () => {
    const each = 'y'.repeat(MAX_STOP_LENGTH);
    const count = MAX_STOP_CHARACTERS / MAX_STOP_LENGTH + 1;
    await refused(model.text({ prompt: 'Once', maxTokens: 1, stop: Array.from({ length: count }, (_, i) => `${i}${each.slice(1)}`) }), 'stop', /in all/);
    const text = await model.text({ prompt: 'Once', maxTokens: 2, stop: [each, 'z'.repeat(1000)] });
    expect(typeof text).toBe('string');
  }, 20_000);

  it('takes lists at their bounds', async () => {
    const stops = Array.from({ length: MAX_STOPS }, (_, i) => `stop ${i}`);
    await expect(model.text({ prompt: 'Once', maxTokens: 1, stop: stops })).resolves.toEqual(expect.any(String));
  }, 20_000);
});
