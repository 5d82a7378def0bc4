import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HfTokenizer, InvalidOptionsError, type GenerationRequest, type WeftModel } from '../src/index.js';
import { promptIds } from '../src/generation/prompt-ids.js';
import { MAX_MESSAGE_EXTRAS } from '../src/generation/request-limits.js';
import { MAX_PLAIN_JSON_DEPTH } from '../src/generation/plain-json.js';
import { fixture, runtime } from './helpers.js';

/**
 * Fields of a chat message besides role and content are copied as plain JSON data, bounded, before
 * the chat template sees them. Before, they went to @huggingface/jinja as given: a
 * `Float32Array(1e7)` field was expanded number by number until V8 ran out of memory (a crash no
 * catch could stop), and a cycle, deep nesting, a BigInt or a getter that throws were reported as
 * a broken or hostile chat template.
 */

/** A tokenizer of the tiny fixture with `template` as its chat template. */
const withTemplate = (template: string): HfTokenizer =>
  new HfTokenizer(JSON.parse(readFileSync(join(fixture('tiny'), 'tokenizer.json'), 'utf8')), {
    ...JSON.parse(readFileSync(join(fixture('tiny'), 'tokenizer_config.json'), 'utf8')),
    chat_template: template,
  });

/** The error `work` throws (undefined when it does not). */
function thrown(work: () => unknown): unknown {
  try {
    work();
  } catch (error) {
    return error;
  }
  return undefined;
}

function expectInvalid(error: unknown, option: string, message: RegExp): void {
  expect(InvalidOptionsError.isInstance(error), String(error)).toBe(true);
  expect(error).toMatchObject({ option });
  expect((error as Error).message).toMatch(message);
  expect((error as Error).message).not.toMatch(/chat_template|broken or hostile/);
}

describe('extra message fields in a request', () => {
  const weft = runtime();
  let model: WeftModel;
  beforeAll(async () => {
    model = await weft.load(fixture('tiny'));
  });
  afterAll(() => weft.dispose());

  const failure = (...extra: Record<string, unknown>[]): Promise<unknown> =>
    model.text({ messages: extra.map((fields) => ({ role: 'user', content: 'Hi', ...fields })) as never, maxTokens: 1 }).then(() => undefined, (e: unknown) => e);

  it('refuses a large typed array or Buffer, naming the field, instead of running out of memory', async () => {
    // A small one first (the template would have rendered it, but a typed array is not JSON data);
    // the large ones took the process down before.
    expectInvalid(await failure({ meta: { v: new Int8Array(2) } }), 'messages[0].meta.v', /is an Int8Array/);
    expectInvalid(await failure({ embedding: new Float32Array(1e7) }), 'messages[0].embedding', /^messages\[0\]\.embedding is a Float32Array; it must be plain JSON data .*Array\.from/);
    expectInvalid(await failure({}, { raw: Buffer.alloc(1e7) }), 'messages[1].raw', /^messages\[1\]\.raw is a Buffer;/);
  });

  it('refuses other values that are not plain JSON data, each by its path', async () => {
    class Point {
      x = 1;
    }
    const cases: [unknown, RegExp][] = [
      [new Map([['a', 1]]), /is a Map;.*Object\.fromEntries/],
      [new Set([1]), /is a Set;.*\[\.\.\.set\]/],
      [new Date(0), /is a Date;.*toISOString/],
      [new Point(), /is a Point;/],
      [() => 1, /is a function;/],
      [Symbol('s'), /is a symbol;/],
      [5n, /is a BigInt \(5n\);.*a number or a string/],
      [Number.NaN, /is NaN;.*finite number/],
      [Number.POSITIVE_INFINITY, /is Infinity;/],
      [new ArrayBuffer(4), /is an ArrayBuffer;/],
    ];
    for (const [value, message] of cases) expectInvalid(await failure({ x: [1, { y: value }] }), 'messages[0].x[1].y', message);
    // eslint-disable-next-line no-sparse-arrays
    expectInvalid(await failure({ x: [1, , 3] }), 'messages[0].x[1]', /is undefined \(or a hole in an array\)/);
  });

  it('names cycles, deep nesting and getters that throw in a field (they were blamed on the template)', async () => {
    const message: Record<string, unknown> = { role: 'user', content: 'Hi', parent: {} };
    (message['parent'] as Record<string, unknown>)['child'] = message;
    const error = await model.text({ messages: [message as never], maxTokens: 1 }).then(() => undefined, (e: unknown) => e);
    expectInvalid(error, 'messages[0].parent.child', /refers back to an object that contains it \(a cycle\)/);
    const deep = JSON.parse('['.repeat(5000) + ']'.repeat(5000)) as unknown;
    // 62 levels below the field: the render's copy counts from `messages`, two levels further up.
    expectInvalid(await failure({ x: deep }), `messages[0].x${'[0]'.repeat(MAX_PLAIN_JSON_DEPTH - 2)}`, /nested more than 62 deep/);
    const meta = {
      get x(): never {
        throw new Error('nested boom');
      },
    };
    const getter = await failure({ meta });
    expectInvalid(getter, 'messages[0].meta.x', /^messages\[0\]\.meta\.x could not be read: nested boom$/);
    expect((getter as Error).cause).toMatchObject({ message: 'nested boom' });
  });

  it('bounds the size of all extra fields of a request, before reading a list past it', async () => {
    expectInvalid(await failure({ big: new Array(MAX_MESSAGE_EXTRAS + 1).fill(0) }), 'messages[0].big', /hold over 1048576 characters and values in all/);
    let reads = 0;
    const claims = new Proxy([], { get: (target, key) => (key === 'length' ? 2 ** 32 - 1 : typeof key === 'string' && /^\d+$/.test(key) ? (reads++, 0) : Reflect.get(target, key)) });
    expectInvalid(await failure({ list: claims }), 'messages[0].list', /hold over/);
    expect(reads).toBe(0);
    const keys = Object.fromEntries(Array.from({ length: MAX_MESSAGE_EXTRAS / 2 }, (_, i) => [`k${i}`, 0]));
    expectInvalid(await failure({ keys }), 'messages[0].keys', /hold over/);
    // The budget is the request's: two conversations of 600,000 characters each go over it.
    const notes = 'n'.repeat(600_000);
    const batch = [[{ role: 'user', content: 'Hi', notes }], [{ role: 'user', content: 'Yo', notes }]];
    const error = await model.text({ messages: batch as never, maxTokens: 1 }).then(() => undefined, (e: unknown) => e);
    expectInvalid(error, 'messages[1][0].notes', /hold over/);
  });

  it('refuses, naming the field, what the render would refuse: a list longer than a render may hold, nesting a level past what it may', async () => {
    // Before: accepted here, then refused by the render, blamed on the chat template.
    expectInvalid(await failure({ data: new Array(100_001).fill(0) }), 'messages[0].data', /holds 100001 items; a list in the messages' extra fields .* may hold at most 100000/);
    const nested = (levels: number): unknown => JSON.parse(`${'['.repeat(levels)}${']'.repeat(levels)}`);
    expectInvalid(await failure({ x: nested(63) }), `messages[0].x${'[0]'.repeat(62)}`, /nested more than 62 deep/);
    expect(typeof (await model.text({ messages: [{ role: 'user', content: 'Hi', x: nested(62), data: new Array(100_000).fill(0) }] as never, maxTokens: 1 }))).toBe('string');
  });

  it('still renders plain extra fields, and leaves undefined ones out', async () => {
    const text = await model.text({ messages: [{ role: 'user', content: 'Hi', name: 'ann', tool_calls: [{ id: 'a', args: { n: 1, ok: true, v: null } }], gone: undefined } as never], maxTokens: 1 });
    expect(typeof text).toBe('string');
  });
});

describe('what the chat template sees', () => {
  const template = "{% for m in messages %}{{ m.role }}:{{ m.name }}:{{ m.tool_calls | tojson }}:{{ m.gone is defined }};{% endfor %}";
  const tokenizer = withTemplate(template);

  it('is the plain copy the request was checked with', () => {
    const request = { messages: [{ role: 'user', content: 'Hi', name: 'ann', tool_calls: [{ id: 'a', args: { n: 1.5, ok: true, v: null } }], gone: undefined }] } as unknown as GenerationRequest;
    const ids = promptIds(request, tokenizer, tokenizer.vocabSize)[0]!;
    expect(tokenizer.decode(ids, { skipSpecialTokens: true })).toContain('user:ann:[{"id": "a", "args": {"n": 1.5, "ok": true, "v": null}}]:false;');
  });

  it('refuses values that are not plain JSON data when the tokenizer is called directly too, without blaming the template', () => {
    const cycle: unknown[] = [];
    cycle.push(cycle);
    expectInvalid(thrown(() => tokenizer.applyChatTemplate([{ role: 'user', content: 'Hi', c: cycle } as never])), 'messages[0].c[0]', /a cycle/);
    const direct = thrown(() => tokenizer.applyChatTemplate([{ role: 'user', content: 'Hi', embedding: new Float32Array(1e7) } as never]));
    expectInvalid(direct, 'messages[0].embedding', /is a Float32Array/);
  });
});
