/**
 * The request fuzzer's generator (see request-fuzz.test.ts): a seeded random number generator, the
 * valid and hostile values of every field of `GenerationRequest` and `PerplexityRequest`, plugin
 * components that behave or misbehave, and the hostile shapes a whole request can take. A case is
 * made again from its seed alone: every value is built fresh, from the seed, when the case runs.
 */
import { definePlugin, FullPrecisionKvStore, type AttentionRouter, type KvCacheInit, type KvCacheStore, type KvSelection, type WeftPlugin } from '../src/index.js';

/** mulberry32: the same seed gives the same case on every platform. */
export class Rng {
  private state: number;
  /** The case's chance of a hostile value where a field offers valid and hostile ones (set per case). */
  hostility = 0.3;
  constructor(seed: number) {
    this.state = (seed ^ 0x2545f491) >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  /** Whether this value is a hostile one, at the case's {@link hostility}. */
  hostile(): boolean {
    return this.chance(this.hostility);
  }
}

/** The tiny fixture's facts the generator aims at (vocab size, context length). */
export const VOCAB = 1024;
export const CONTEXT = 256;

/** What a case's components report, so the runner can check for leaks and reuse what behaved. */
export class Tracker {
  /** Stores made by a well-behaved factory (request instances and registry entries): begun and disposed counts. */
  readonly stores: TrackedStore[] = [];
  /** Instances that behave, passed in the request: after the case each must serve a plain request (no claim left). */
  readonly reusable: { readonly kv?: KvCacheStore; readonly router?: AttentionRouter }[] = [];
  /** Abort the case's controller before this forward pass (read by the fuzz plugin's hook). */
  abortAtStep: number | undefined;
  controller: AbortController | undefined;
  /** The case's abort signals: an evaluation may reject with an aborted one's reason, as documented. */
  readonly signals: AbortSignal[] = [];
  /** Whether the request has a signal field at all (an aborted evaluation rejects with an AbortError). */
  signalGiven = false;
}

/** A full-precision store that counts `begin` and `dispose` (leak check). */
export class TrackedStore extends FullPrecisionKvStore {
  begun = 0;
  disposed = 0;
  override begin(init: KvCacheInit): void {
    this.begun++;
    super.begin(init);
  }
  override dispose(): void {
    this.disposed++;
    super.dispose();
  }
  /** Whether a run that began it has also disposed it (every `begin` has a later `dispose`). */
  get settled(): boolean {
    return this.disposed >= this.begun;
  }
}

/** A value and how a failure report names it. */
export interface Choice {
  readonly label: string;
  readonly value: unknown;
}

type Maker = (rng: Rng, t: Tracker) => Choice;
const v = (label: string, value: unknown): Maker => () => ({ label, value });

/** Reads of this getter after the first `n` return `later` (a value that changes under the reader). */
function flipping(first: unknown, later: unknown, n = 1): () => unknown {
  let reads = 0;
  return () => (reads++ < n ? first : later);
}

function throwingGetter(target: object, key: string, error: unknown = new Error(`reading ${key} is not allowed`)): object {
  Object.defineProperty(target, key, {
    enumerable: true,
    configurable: true,
    get() {
      throw error;
    },
  });
  return target;
}

/** A Proxy of `target` whose every trap throws. */
const exploding = (target: object): object =>
  new Proxy(target, {
    get() {
      throw new Error('proxy get trap refused');
    },
    has() {
      throw new Error('proxy has trap refused');
    },
    ownKeys() {
      throw new Error('proxy ownKeys trap refused');
    },
    getOwnPropertyDescriptor() {
      throw new Error('proxy descriptor trap refused');
    },
    getPrototypeOf() {
      throw new Error('proxy prototype trap refused');
    },
  });

/** A transparent Proxy (every trap forwards). */
const transparent = <T extends object>(target: T): T => new Proxy(target, {});

/** Thrown values plugin code may throw. */
const THROWN: readonly Maker[] = [
  v('an Error', new Error('component failed on purpose')),
  v('a TypeError', new TypeError('component type failure')),
  v('a string', 'component threw a string'),
  v('undefined', undefined),
  v('null', null),
  v('a number', 42),
  v('an empty Error', new Error('')),
  () => ({ label: 'an object whose toString throws', value: { toString() { throw new Error('no string'); } } }),
  () => ({ label: 'an exploding Proxy', value: exploding({}) }),
  () => ({ label: 'a multi-line Error', value: new Error('first line\n    at fake (stack.js:1:1)\nsecond line') }),
  () => ({ label: 'a huge message', value: new Error('x'.repeat(100_000)) }),
];

// ---- prompts --------------------------------------------------------------------------------

const PROMPT_TEXTS: readonly Maker[] = [
  v('"Once upon a time"', 'Once upon a time'),
  v('"a"', 'a'),
  v('""', ''),
  v('" "', ' '),
  v('"\\0"', '\0'),
  v('a lone high surrogate', 'ab\uD800'),
  v('a lone low surrogate', '\uDC00cd'),
  v('an emoji', 'Tom 😀 said'),
  v('controls', '\u001b[31mred\r\b\u202e'),
  v('special-token text', '<|bos|><|eos|><|user|>'),
  v('250 chars', 'ab '.repeat(83) + 'a'),
  v('800 chars', 'word '.repeat(160)),
  v('3000 chars (chunked count)', 'the cat '.repeat(375)),
  v('200k chars', 'la '.repeat(66_667)),
  v('a 1M-char word', 'z'.repeat(1_000_000)),
  v('a string object', new String('boxed')),
  v('a number', 5),
  v('a bigint', 5n),
  v('null', null),
  v('true', true),
  v('a symbol', Symbol('prompt')),
  v('an object', { text: 'hi' }),
  v('a function', () => 'hi'),
];

function promptValue(rng: Rng, t: Tracker): Choice {
  const roll = rng.next();
  const text = (): Choice => (rng.hostile() ? rng.pick(PROMPT_TEXTS)(rng, t) : rng.pick(PROMPT_TEXTS.slice(0, 13).filter((_, i) => i !== 2))(rng, t));
  if (roll < 0.6) return text();
  const n = rng.hostile() ? rng.pick([0, 1, 2, 3, 8, 40]) : rng.pick([1, 2, 3, 4]);
  const parts: Choice[] = Array.from({ length: n }, text);
  const values = parts.map((p) => p.value);
  const shape = rng.hostile() ? rng.int(6) : 5;
  const label = `[${parts.map((p) => p.label).join(', ')}]`;
  if (shape === 0) return { label: `frozen ${label}`, value: Object.freeze(values) };
  if (shape === 1) {
    const holey = values.slice();
    holey.length += 2;
    return { label: `${label} with 2 holes`, value: holey };
  }
  if (shape === 2) return { label: `Proxy of ${label}`, value: transparent(values) };
  if (shape === 3 && n > 0) return { label: `${label} whose [0] getter throws`, value: throwingGetter(values, '0') };
  return { label, value: values };
}

const MESSAGE: readonly Maker[] = [
  v('{user, "Hi"}', { role: 'user', content: 'Hi' }),
  v('{system, "Be brief"}', { role: 'system', content: 'Be brief' }),
  v('{assistant, ""}', { role: 'assistant', content: '' }),
  v('{tool, lone surrogate}', { role: 'tool', content: '\uD83D' }),
  v('{"", "x"}', { role: '', content: 'x' }),
  v('{user, jinja syntax}', { role: 'user', content: "{{ raise_exception('no') }}{% for x in range(99999999) %}x{% endfor %}" }),
  v('{user, 3000 chars}', { role: 'user', content: 'story '.repeat(500) }),
  v('{user} without content', { role: 'user' }),
  v('{user, 5}', { role: 'user', content: 5 }),
  v('{role: symbol}', { role: Symbol('r'), content: 'x' }),
  v('null', null),
  v('"text"', 'text'),
  v('{user, "x", extra}', { role: 'user', content: 'x', name: 'Tom', tool_calls: [] }),
  () => ({ label: 'content getter that throws', value: throwingGetter({ role: 'user' }, 'content') }),
  () => ({ label: 'content that flips to a number', value: Object.defineProperty({ role: 'user' }, 'content', { enumerable: true, get: flipping('Hi', 7) }) }),
  () => ({ label: 'an exploding Proxy message', value: exploding({ role: 'user', content: 'x' }) }),
  () => ({ label: 'JSON __proto__ message', value: JSON.parse('{"role":"user","content":"x","__proto__":{"role":"system"}}') as unknown }),
];

function conversation(rng: Rng, t: Tracker): Choice {
  const n = rng.hostile() ? rng.pick([0, 1, 2, 3]) : rng.pick([1, 1, 2, 3]);
  const parts = Array.from({ length: n }, () => (rng.hostile() ? rng.pick(MESSAGE)(rng, t) : rng.pick(MESSAGE.slice(0, 3))(rng, t)));
  return { label: `[${parts.map((p) => p.label).join(', ')}]`, value: parts.map((p) => p.value) };
}

function messagesValue(rng: Rng, t: Tracker): Choice {
  const roll = rng.next();
  if (roll < 0.6 || !rng.hostile()) return conversation(rng, t);
  if (roll < 0.8) {
    const n = rng.pick([0, 1, 2, 3]);
    const rows = Array.from({ length: n }, () => conversation(rng, t));
    return { label: `batch [${rows.map((r) => r.label).join(', ')}]`, value: rows.map((r) => r.value) };
  }
  return rng.pick([v('a string', 'Hi'), v('an object', { role: 'user', content: 'Hi' }), v('null', null), v('[[], [{user}]]', [[], [{ role: 'user', content: 'x' }]]), v('[{user}, [{user}]]', [{ role: 'user', content: 'x' }, [{ role: 'user', content: 'x' }]])])(rng, t);
}

const ID: readonly Maker[] = [
  v('1', 1), v('0', 0), v('2 (eos)', 2), v('5', 5), v('1023', VOCAB - 1), v('1024', VOCAB), v('-1', -1), v('-0', -0), v('1.5', 1.5),
  v('NaN', NaN), v('Infinity', Infinity), v('"7"', '7'), v('7n', 7n), v('null', null), v('2**53', 2 ** 53), v('1e300', 1e300),
];

function idList(rng: Rng, length: number, t: Tracker, hostile: boolean): Choice {
  const ids: unknown[] = [];
  const labels: string[] = [];
  let hostileAt = -1;
  if (hostile && length > 0) hostileAt = rng.int(length);
  for (let i = 0; i < length; i++) {
    if (i === hostileAt) {
      const c = rng.pick(ID)(rng, t);
      ids.push(c.value);
      labels.push(`[${i}]=${c.label}`);
    } else ids.push(3 + ((i * 37 + length) % (VOCAB - 3)));
  }
  return { label: `${length} ids${labels.length ? ` (${labels.join(', ')})` : ''}`, value: ids };
}

function inputIdsValue(rng: Rng, t: Tracker, evaluate = false): Choice {
  const roll = rng.next();
  const lengths = [0, 1, 2, 3, 16, 100, CONTEXT - 2, CONTEXT - 1, CONTEXT, CONTEXT + 1, 5000];
  const hostile = rng.hostile();
  if (roll < 0.55 || (!hostile && roll < 0.85)) return idList(rng, hostile ? rng.pick(lengths) : rng.pick([2, 3, 16, 100, CONTEXT - 2, CONTEXT - 1]), t, hostile && rng.chance(0.5));
  if (roll < 0.85 && !evaluate) {
    const rows = Array.from({ length: hostile ? rng.pick([0, 1, 2, 3, 5]) : rng.pick([1, 2, 3]) }, () => idList(rng, rng.pick(hostile ? [0, 1, 2, 7, 30, CONTEXT - 1] : [1, 2, 7, 30]), t, hostile && rng.chance(0.3)));
    return { label: `batch [${rows.map((r) => r.label).join('; ')}]`, value: rows.map((r) => r.value) };
  }
  return rng.pick<Maker>([
    v('Int32Array [1, 9, 10]', new Int32Array([1, 9, 10])),
    v('Float64Array [1.5]', new Float64Array([1, 1.5])),
    v('Uint16Array of 300', new Uint16Array(300).fill(7)),
    v('BigInt64Array', new BigInt64Array([1n, 2n])),
    v('a DataView', new DataView(new ArrayBuffer(8))),
    v('an array-like object', { 0: 1, 1: 2, length: 2 }),
    v('[1, , 3] (a hole)', [1, , 3]),
    v('[[1, 2], 3]', [[1, 2], 3]),
    v('[1, [2]]', [1, [2]]),
    v('[[]]', [[]]),
    v('[[1], []]', [[1], []]),
    v('frozen [1, 5, 6]', Object.freeze([1, 5, 6])),
    v('Proxy of [1, 5, 6]', transparent([1, 5, 6])),
    () => ({ label: '[1, 5, getter that throws]', value: throwingGetter([1, 5, 6], '2') }),
    () => ({ label: 'an exploding Proxy', value: exploding([1, 2]) }),
    () => {
      const length = flipping(3, 1e9);
      return { label: 'an array whose length flips from 3 to 1e9', value: new Proxy([1, 5, 6], { get: (tgt, k) => (k === 'length' ? length() : Reflect.get(tgt, k)) }) };
    },
    v('a sparse array of length 1e6', new Array(1_000_000)),
    v('a string', '1,2,3'),
    v('null', null),
    v('a number', 7),
    v('an Int32Array batch [[1,2],[3]]', [new Int32Array([1, 2]), new Int32Array([3])]),
    v('a batch of 64 x [5, 6]', Array.from({ length: 64 }, () => [5, 6])),
  ])(rng, t);
}

// ---- numbers and flags --------------------------------------------------------------------

const NUMBERISH: readonly Maker[] = [
  v('NaN', NaN), v('Infinity', Infinity), v('-Infinity', -Infinity), v('-0', -0), v('-1', -1), v('1e308', 1e308), v('5e-324', 5e-324),
  v('2**53', 2 ** 53), v('"1"', '1'), v('1n', 1n), v('null', null), v('true', true), v('{}', {}), v('[1]', [1]), v('a Number object', new Number(1)),
];

function numberField(rng: Rng, t: Tracker, valid: readonly Maker[]): Choice {
  return rng.hostile() ? rng.pick(NUMBERISH)(rng, t) : rng.pick(valid)(rng, t);
}

// Valid values (at the edges too); numberField mixes in NUMBERISH at the case's hostility.
const MAX_TOKENS: readonly Maker[] = [v('1', 1), v('2', 2), v('3', 3), v('5', 5), v('12', 12), v('255', 255), v('256', 256), v('1e9', 1e9), v('2**53', 2 ** 53)];
const TEMPERATURE: readonly Maker[] = [v('0', 0), v('-0', -0), v('0.7', 0.7), v('1', 1), v('2', 2), v('1e-30', 1e-30), v('5e-324', 5e-324), v('1e30', 1e30)];
const TOP_K: readonly Maker[] = [v('0', 0), v('1', 1), v('5', 5), v('50', 50), v('1023', 1023), v('1024', 1024), v('1e9', 1e9), v('2**53', 2 ** 53)];
const UNIT: readonly Maker[] = [v('0', 0), v('-0', -0), v('5e-324', 5e-324), v('1e-12', 1e-12), v('0.5', 0.5), v('0.95', 0.95), v('1', 1)];
const PENALTY: readonly Maker[] = [v('1', 1), v('1.3', 1.3), v('0.5', 0.5), v('1e-30', 1e-30), v('5e-324', 5e-324), v('1e30', 1e30)];
const SEED: readonly Maker[] = [v('0', 0), v('-0', -0), v('7', 7), v('-7', -7), v('2**53-1', 2 ** 53 - 1), v('-(2**53-1)', -(2 ** 53 - 1))];
const BOOLEAN: readonly Maker[] = [v('true', true), v('false', false)];
const BOOLEANISH: readonly Maker[] = [v('"true"', 'true'), v('1', 1), v('0', 0), v('null', null), v('a Boolean object', new Boolean(false))];
const flag = (rng: Rng, t: Tracker): Choice => (rng.hostile() ? rng.pick(BOOLEANISH) : rng.pick(BOOLEAN))(rng, t);

// ---- stop strings --------------------------------------------------------------------------

const STOP_STRING: readonly Maker[] = [
  v('"."', '.'), v('" "', ' '), v('"\\n"', '\n'), v('"the"', 'the'), v('"e"', 'e'), v('"<|eos|>"', '<|eos|>'), v('"<|bos|>"', '<|bos|>'),
  v('"<|user|>"', '<|user|>'), v('"😀"', '😀'), v('"\\uFFFD"', '\uFFFD'), v('a 10k string', 'ab'.repeat(5000)), v('""', ''), v('a lone surrogate', 'x\uD800'),
  v('a lone low surrogate', '\uDC00'), v('null', null), v('5', 5), v('a String object', new String('.')), v('undefined', undefined),
];

function stopValue(rng: Rng, t: Tracker): Choice {
  const roll = rng.next();
  if (roll < 0.8 || !rng.hostile()) {
    const n = rng.pick([0, 1, 1, 2, 3, 10]);
    const parts = Array.from({ length: n }, () => (rng.hostile() ? rng.pick(STOP_STRING)(rng, t) : rng.pick(STOP_STRING.slice(0, 11))(rng, t)));
    const values = parts.map((p) => p.value);
    const label = `[${parts.map((p) => p.label).join(', ')}]`;
    if (rng.chance(0.1)) return { label: `frozen ${label}`, value: Object.freeze(values) };
    if (rng.hostile() && rng.chance(0.2) && n > 0) return { label: `${label} with a hole`, value: [, ...values] };
    return { label, value: values };
  }
  return rng.pick<Maker>([
    v('"."', '.'),
    v('1000 stops', Array.from({ length: 1000 }, (_, i) => `s${i}`)),
    v('null', null),
    v('a Set', new Set(['.'])),
    () => ({ label: 'a Proxy of ["."]', value: transparent(['.']) }),
    () => ({ label: '["."] whose [0] getter throws', value: throwingGetter(['.'], '0') }),
    () => ({ label: 'an exploding Proxy', value: exploding([]) }),
  ])(rng, t);
}

// ---- abort signals -------------------------------------------------------------------------

function signalValue(rng: Rng, t: Tracker): Choice {
  t.signalGiven = true;
  const c = signalChoice(rng, t);
  if (c.value instanceof AbortSignal) t.signals.push(c.value);
  return c;
}

function signalChoice(rng: Rng, t: Tracker): Choice {
  const kind = rng.hostile() ? rng.int(11) : rng.pick([0, 1, 3, 4, 5]);
  const controller = new AbortController();
  switch (kind) {
    case 0:
      return { label: 'a live signal', value: controller.signal };
    case 1:
      controller.abort();
      return { label: 'a signal already aborted', value: controller.signal };
    case 2:
      controller.abort(rng.pick([undefined, 'a string reason', new Error('reason error'), 0, null]));
      return { label: 'a signal already aborted with a reason', value: controller.signal };
    case 3:
    case 4: {
      const step = rng.pick([0, 1, 2, 5]);
      t.controller = controller;
      t.abortAtStep = step;
      return { label: `a signal aborted before forward pass ${step}`, value: controller.signal };
    }
    case 5:
      queueMicrotask(() => controller.abort());
      return { label: 'a signal aborted in a microtask', value: controller.signal };
    case 6:
      return { label: 'AbortSignal.timeout(1)', value: AbortSignal.timeout(1) };
    case 7:
      return rng.pick<Maker>([v('{ aborted: false }', { aborted: false }), v('{ aborted: "no" }', { aborted: 'no' }), v('null', null), v('"signal"', 'signal'), v('true', true)])(rng, t);
    case 8:
      return { label: 'a signal whose aborted getter throws', value: throwingGetter({}, 'aborted') };
    case 9:
      return { label: 'a signal whose aborted flips to true', value: Object.defineProperty({}, 'aborted', { get: flipping(false, true, 3) }) };
    default:
      return { label: 'AbortSignal.any of an aborted one', value: AbortSignal.any([AbortSignal.abort(), controller.signal]) };
  }
}

// ---- components ----------------------------------------------------------------------------

/** Names the fuzz plugin registers (entries that behave and entries that do not). */
export const FUZZ_PLUGIN = 'request-fuzz';

function processorValue(rng: Rng, t: Tracker): Choice {
  const good = { name: 'fuzz-noop', process() {} };
  const makers: Maker[] = [
    v('a no-op instance', good),
    v('one banning ids 0..9', { name: 'fuzz-ban', process: (l: Float32Array) => l.fill(-Infinity, 0, 10) }),
    v('one masking every id', { name: 'fuzz-mask-all', process: (l: Float32Array) => l.fill(-Infinity) }),
    v('one writing NaN', { name: 'fuzz-nan', process: (l: Float32Array) => l.fill(NaN) }),
    v('one writing +Infinity at 7', { name: 'fuzz-inf', process: (l: Float32Array) => void (l[7] = Infinity) }),
    v('one writing +Infinity at eos', { name: 'fuzz-inf-eos', process: (l: Float32Array) => void (l[2] = Infinity) }),
    v('one keeping only the special ids', { name: 'fuzz-specials', process: (l: Float32Array) => l.fill(-Infinity, 6) }),
    v('one writing -Infinity but at 1023', { name: 'fuzz-last', process: (l: Float32Array) => l.fill(-Infinity, 0, l.length - 1) }),
    v('one writing +Infinity everywhere', { name: 'fuzz-all-inf', process: (l: Float32Array) => l.fill(Infinity) }),
    v('one writing subnormals', { name: 'fuzz-tiny', process: (l: Float32Array) => l.fill(1e-45) }),
    v('an async one', { name: 'fuzz-async', process: async () => {} }),
    v('one returning a rejected promise', { name: 'fuzz-rejects', process: () => Promise.reject(new Error('rejected on purpose')) }),
    v('one without a name', { process() {} }),
    v('one without a name that throws', { process() { throw new Error('nameless processor failed'); } }),
    v('one named 5', { name: 5, process() {} }),
    () => ({ label: 'one whose name getter throws', value: throwingGetter({ process() {} }, 'name') }),
    v('one without process', { name: 'fuzz-no-process' }),
    v('one whose process is a string', { name: 'fuzz-bad', process: 'x' }),
    v('a registered no-op', 'fuzz-noop'),
    v('a registered one that throws', 'fuzz-throws'),
    v('an unknown name', 'no-such-processor'),
    v('""', ''),
    v('{ name: "fuzz-noop", options: { x: 1 } }', { name: 'fuzz-noop', options: { x: 1 } }),
    v('{ name: 5 }', { name: 5 }),
    v('{}', {}),
    v('null', null),
    v('a number', 3),
    () => ({ label: 'an exploding Proxy', value: exploding({ name: 'x', process() {} }) }),
    (r) => {
      const thrown = rng.pick(THROWN)(r, t);
      return { label: `one throwing ${thrown.label}`, value: { name: 'fuzz-throwing', process() { throw thrown.value; } } };
    },
    (r) => {
      const at = r.pick([0, 1, 3]);
      return { label: `one throwing at step ${at}`, value: { name: 'fuzz-late', process(_l: Float32Array, c: { step: number }) { if (c.step === at) throw new Error(`late failure at ${at}`); } } };
    },
  ];
  return (rng.hostile() ? rng.pick(makers) : rng.pick([makers[0]!, makers[1]!, makers[4]!, makers[9]!, makers[18]!]))(rng, t);
}

function list(rng: Rng, t: Tracker, item: (rng: Rng, t: Tracker) => Choice): Choice {
  const roll = rng.next();
  if (roll < 0.85 || !rng.hostile()) {
    const parts = Array.from({ length: rng.pick([0, 1, 1, 2, 3]) }, () => item(rng, t));
    return { label: `[${parts.map((p) => p.label).join(', ')}]`, value: parts.map((p) => p.value) };
  }
  return rng.pick<Maker>([
    v('a string', 'fuzz-noop'),
    v('null', null),
    v('an object', { name: 'fuzz-noop' }),
    v('a Set', new Set()),
    () => ({ label: 'an exploding Proxy', value: exploding([]) }),
    // eslint-disable-next-line no-sparse-arrays
    () => ({ label: '[a hole, a named no-op one]', value: [, { name: 'fuzz-noop', process() {}, observe: () => undefined }] }),
  ])(rng, t);
}

function samplerValue(rng: Rng, t: Tracker): Choice {
  const argmax = (l: Float32Array): number => {
    let best = 0;
    for (let i = 1; i < l.length; i++) if (l[i]! > l[best]!) best = i;
    return best;
  };
  const good: Maker[] = [v('an argmax instance', { name: 'fuzz-argmax', sample: argmax }), v('a registered argmax', 'fuzz-argmax'), v('one drawing with random()', { name: 'fuzz-random', sample: (l: Float32Array, c: { random: () => number }) => Math.floor(c.random() * l.length) })];
  if (!rng.hostile()) return rng.pick(good)(rng, t);
  return rng.pick<Maker>([
    v('an argmax instance', { name: 'fuzz-argmax', sample: argmax }),
    v('one drawing with random()', { name: 'fuzz-random', sample: (l: Float32Array, c: { random: () => number }) => Math.floor(c.random() * l.length) }),
    v('one returning -1', { name: 'fuzz-neg', sample: () => -1 }),
    v('one returning 1.5', { name: 'fuzz-frac', sample: () => 1.5 }),
    v('one returning NaN', { name: 'fuzz-nan', sample: () => NaN }),
    v('one returning the vocab size', { name: 'fuzz-vocab', sample: (l: Float32Array) => l.length }),
    v('one returning "3"', { name: 'fuzz-string', sample: () => '3' }),
    v('one returning 3n', { name: 'fuzz-bigint', sample: () => 3n }),
    v('one returning undefined', { name: 'fuzz-returns-nothing', sample: () => undefined }),
    v('one returning a promise', { name: 'fuzz-async', sample: async () => 3 }),
    v('one returning an object', { name: 'fuzz-object', sample: () => ({ id: 3 }) }),
    v('one that throws', { name: 'fuzz-throws', sample() { throw new Error('sampler failed on purpose'); } }),
    v('one without a name returning -1', { sample: () => -1 }),
    v('one returning the eos id', { name: 'fuzz-eos', sample: () => 2 }),
    v('one returning the bos id', { name: 'fuzz-bos', sample: () => 1 }),
    v('one returning the pad id', { name: 'fuzz-pad', sample: () => 0 }),
    v('one returning -0', { name: 'fuzz-minus-zero', sample: () => -0 }),
    v('one without sample', { name: 'fuzz-nothing' }),
    v('a registered argmax', 'fuzz-argmax'),
    v('a registered one returning garbage', 'fuzz-garbage'),
    v('an unknown name', 'no-such-sampler'),
    v('null', null),
    v('{ name: "fuzz-argmax", options: "x" }', { name: 'fuzz-argmax', options: 'x' }),
    () => ({ label: 'an exploding Proxy', value: exploding({ name: 'x', sample: () => 0 }) }),
  ])(rng, t);
}

function analyzerValue(rng: Rng, t: Tracker): Choice {
  if (!rng.hostile()) {
    return rng.pick<Maker>([v('one returning data', { name: 'fuzz-data', observe: (o: { step: number }) => ({ step: o.step }) }), v('one returning undefined', { name: 'fuzz-quiet', observe: () => undefined }), v('router-decisions', 'router-decisions')])(rng, t);
  }
  return rng.pick<Maker>([
    v('one returning data', { name: 'fuzz-data', observe: (o: { step: number }) => ({ step: o.step }) }),
    v('one returning undefined', { name: 'fuzz-quiet', observe: () => undefined }),
    v('one returning a cyclic object', { name: 'fuzz-cycle', observe: () => { const a: Record<string, unknown> = {}; a['self'] = a; return a; } }),
    v('one that throws', { name: 'fuzz-throws', observe() { throw new Error('analyzer failed on purpose'); } }),
    v('an async one', { name: 'fuzz-async', observe: async () => 1 }),
    v('one whose importance is too short', { name: 'fuzz-imp-short', observe: () => undefined, importance: () => new Float32Array(1) }),
    v('one whose importance is NaN', { name: 'fuzz-imp-nan', observe: () => undefined, importance: () => new Float32Array(4096).fill(NaN) }),
    v('one whose importance is an array', { name: 'fuzz-imp-array', observe: () => undefined, importance: () => [1, 2, 3] }),
    v('one whose importance is a string', { name: 'fuzz-imp-string', observe: () => undefined, importance: () => 'high' }),
    v('one whose importance throws', { name: 'fuzz-imp-throws', observe: () => undefined, importance() { throw new Error('importance failed'); } }),
    v('one without a name', { observe: () => 1 }),
    v('one without observe', { name: 'fuzz-blind' }),
    v('router-decisions', 'router-decisions'),
    v('attention-importance', 'attention-importance'),
    v('{ name: "router-decisions", options: { x: 1 } }', { name: 'router-decisions', options: { x: 1 } }),
    v('an unknown name', 'no-such-analyzer'),
    v('null', null),
  ])(rng, t);
}

const STORE_NAMES: readonly Maker[] = [
  v('"fp32"', 'fp32'), v('"fp16"', 'fp16'), v('"int8"', 'int8'), v('"int4"', 'int4'), v('"kivi"', 'kivi'), v('"temporal"', 'temporal'),
  v('"fuzz-tracked"', 'fuzz-tracked'),
  v('{ int4, group 16 }', { name: 'int4', options: { group: 16 } }),
  v('{ int4, group 0 }', { name: 'int4', options: { group: 0 } }),
  v('{ int4, group 7 }', { name: 'int4', options: { group: 7 } }),
  v('{ int8, group "x" }', { name: 'int8', options: { group: 'x' } }),
  v('{ int8, bogus }', { name: 'int8', options: { bogus: 1 } }),
  v('{ kivi, residual 0 }', { name: 'kivi', options: { residual: 0 } }),
  v('{ kivi, residual 1e9 }', { name: 'kivi', options: { residual: 1e9 } }),
  v('{ kivi, residual NaN }', { name: 'kivi', options: { residual: NaN } }),
  v('{ temporal, options null }', { name: 'temporal', options: null }),
  v('{ fp16, options "x" }', { name: 'fp16', options: 'x' }),
  v('{ fp16, options [] }', { name: 'fp16', options: [] }),
  v('{ fp32, options {} }', { name: 'fp32', options: {} }),
  () => ({ label: '{ int4, options exploding }', value: { name: 'int4', options: exploding({}) } }),
  () => ({ label: '{ int4, options with __proto__ }', value: { name: 'int4', options: JSON.parse('{"__proto__":{"group":3},"group":32}') as unknown } }),
  v('{ int4, group 32n }', { name: 'int4', options: { group: 32n } }),
  v('"fuzz-create-throws"', 'fuzz-create-throws'),
  v('"fuzz-create-garbage"', 'fuzz-create-garbage'),
  v('"fuzz-create-async"', 'fuzz-create-async'),
  v('an unknown name', 'no-such-store'),
  v('""', ''),
  v('"__proto__"', '__proto__'),
  v('"constructor"', 'constructor'),
  v('{ name: 5 }', { name: 5 }),
  v('{}', {}),
  v('null', null),
  v('7', 7),
  v('[]', []),
];

function storeValue(rng: Rng, t: Tracker): Choice {
  const hostile = rng.hostile();
  if (rng.chance(0.5)) return rng.pick(hostile ? STORE_NAMES : STORE_NAMES.slice(0, 8))(rng, t);
  const kind = hostile ? rng.int(16) : 0;
  if (kind <= 2) {
    const store = new TrackedStore();
    t.stores.push(store);
    t.reusable.push({ kv: store });
    return { label: 'a tracked store instance', value: store };
  }
  const base = new FullPrecisionKvStore();
  const wrap = (label: string, over: Record<string, unknown>): Choice => {
    const store = Object.create(base, Object.fromEntries(Object.entries(over).map(([k, val]) => [k, { value: val, enumerable: true, configurable: true, writable: true }]))) as object;
    return { label, value: store };
  };
  switch (kind) {
    case 3:
      return { label: 'an object with begin/materialize/append only', value: { begin() {}, materialize: () => ({}), append() {} } };
    case 4:
      return wrap('a store whose begin throws', { begin() { throw new Error('begin failed on purpose'); } });
    case 5:
      return wrap('a store whose materialize returns {}', { materialize: () => ({}) });
    case 6:
      return wrap('a store whose materialize returns null', { materialize: () => null });
    case 7:
      return wrap('a store whose append throws', { append() { throw new Error('append failed on purpose'); } });
    case 8:
      return { label: 'a store whose length is NaN', value: Object.defineProperty(Object.create(base), 'length', { get: () => NaN }) as object };
    case 9:
      return wrap('a store whose dispose throws', { dispose() { throw new Error('dispose failed on purpose'); } });
    case 10:
      return wrap('a store whose slotPositions returns garbage', { slotPositions: () => rng.pick<unknown>([[], 'abc', [[NaN, -1]], [[0, 0, 0]], null, [[1e9]]]) });
    case 11:
      return wrap('a store of specificationVersion v2', { specificationVersion: 'v2' });
    case 12:
      return wrap('a store whose retain throws', { retain() { throw new Error('retain failed on purpose'); } });
    case 13:
      return wrap('a store whose append is async', { append: async () => {} });
    case 14:
      return { label: 'an exploding Proxy store', value: exploding(new FullPrecisionKvStore()) };
    default:
      return wrap('a store without a name whose bytes throws', { name: undefined, bytes() { throw new Error('bytes failed'); } });
  }
}

const ROUTER_NAMES: readonly Maker[] = [
  v('"full"', 'full'), v('"window"', 'window'), v('"sink-window"', 'sink-window'), v('"strided"', 'strided'), v('"heavy-hitter"', 'heavy-hitter'),
  v('"key-norm"', 'key-norm'), v('"hybrid"', 'hybrid'), v('"content-aware"', 'content-aware'),
  v('{ window, budget 4 }', { name: 'window', options: { budget: 4 } }),
  v('{ window, budget 1 }', { name: 'window', options: { budget: 1 } }),
  v('{ window, budget 0 }', { name: 'window', options: { budget: 0 } }),
  v('{ window, budget -3 }', { name: 'window', options: { budget: -3 } }),
  v('{ window, budget 1e9 }', { name: 'window', options: { budget: 1e9 } }),
  v('{ window, budget NaN }', { name: 'window', options: { budget: NaN } }),
  v('{ sink-window, sinks 4, window 4 }', { name: 'sink-window', options: { sinks: 4, window: 4 } }),
  v('{ sink-window, sinks 300 }', { name: 'sink-window', options: { sinks: 300 } }),
  v('{ strided, stride 0 }', { name: 'strided', options: { stride: 0 } }),
  v('{ key-norm, budget 8 }', { name: 'key-norm', options: { budget: 8 } }),
  v('{ hybrid, budget 8 }', { name: 'hybrid', options: { budget: 8 } }),
  v('{ content-aware, budget 8 }', { name: 'content-aware', options: { budget: 8 } }),
  v('{ window, options "x" }', { name: 'window', options: 'x' }),
  v('an unknown name', 'no-such-router'),
  v('null', null),
  v('{}', {}),
];

function routerValue(rng: Rng, t: Tracker): Choice {
  const hostile = rng.hostile();
  if (rng.chance(0.55)) return rng.pick(hostile ? ROUTER_NAMES : ROUTER_NAMES.slice(0, 10).concat(ROUTER_NAMES.slice(14, 15), ROUTER_NAMES.slice(17, 20)))(rng, t);
  const keepLast = (n: number) => (c: { cacheLength: number }): KvSelection | undefined =>
    c.cacheLength <= n ? undefined : { kind: 'shared', slots: Array.from({ length: n }, (_, i) => c.cacheLength - n + i) };
  const router = (label: string, over: Partial<AttentionRouter> & Record<string, unknown>, reusable = false): Choice => {
    const value = { specificationVersion: 'v1', name: 'fuzz-router', select: keepLast(6), ...over } as AttentionRouter;
    if (reusable) t.reusable.push({ router: value });
    return { label, value };
  };
  if (!hostile) return rng.pick([() => router('a keep-last-6 instance', {}, true), () => router('a keep-last-6 instance with cache positions', { positions: 'cache' }, true)])();
  return rng.pick<() => Choice>([
    () => router('a keep-last-6 instance', {}, true),
    () => router('a keep-last-6 instance with cache positions', { positions: 'cache' }, true),
    () => router('one with positions "sideways"', { positions: 'sideways' as never }),
    () => router('one selecting descending slots', { select: (c: { cacheLength: number }) => ({ kind: 'shared', slots: c.cacheLength > 1 ? [1, 0] : [] }) }),
    () => router('one selecting slot -1', { select: () => ({ kind: 'shared', slots: [-1] }) }),
    () => router('one selecting NaN', { select: () => ({ kind: 'shared', slots: [NaN] }) }),
    () => router('one selecting past the cache', { select: (c: { cacheLength: number }) => ({ kind: 'shared', slots: [c.cacheLength + 5] }) }),
    () => router('one selecting kind "bogus"', { select: () => ({ kind: 'bogus', slots: [] }) as never }),
    () => router('one selecting per head with one head', { select: () => ({ kind: 'per-head', slots: [[0]] }) }),
    () => router('one selecting per head for both heads', { select: (c: { cacheLength: number }) => ({ kind: 'per-head', slots: [[0], [c.cacheLength - 1]] }) }),
    () => router('one selecting nothing', { select: () => ({ kind: 'shared', slots: [] }) }),
    () => router('one returning 5', { select: () => 5 as never }),
    () => router('one returning a promise', { select: (async () => undefined) as never }),
    () => router('one whose select throws', { select() { throw new Error('select failed on purpose'); } }),
    () => router('one whose observe throws', { observe() { throw new Error('observe failed on purpose'); } }),
    () => router('one without a name', { name: undefined as never }),
    () => router('one of specificationVersion v0', { specificationVersion: 'v0' as never }),
    () => router('one selecting a huge array', { select: () => ({ kind: 'shared', slots: Array.from({ length: 100_000 }, (_, i) => i) }) }),
    () => ({ label: 'one without select', value: { specificationVersion: 'v1', name: 'fuzz-no-select' } }),
    () => ({ label: 'an exploding Proxy', value: exploding({ specificationVersion: 'v1', name: 'x', select: () => undefined }) }),
  ])();
}

// ---- the fuzz plugin -----------------------------------------------------------------------

/**
 * Registry entries a request can name: well-behaved ones (`fuzz-noop`, `fuzz-argmax`,
 * `fuzz-tracked`) and ones whose `create` throws, returns garbage or a promise; plus a
 * `beforeForward` hook that aborts a case's controller at the step it asks for.
 */
export function fuzzPlugin(current: () => Tracker | undefined): WeftPlugin {
  return definePlugin({
    name: FUZZ_PLUGIN,
    version: '1.0.0',
    apiVersion: '^0.1.0',
    setup(ctx) {
      ctx.register('logits-processor', { name: 'fuzz-noop', create: () => ({ name: 'fuzz-noop', process() {} }) });
      ctx.register('logits-processor', { name: 'fuzz-throws', create: () => ({ name: 'fuzz-throws', process() { throw new Error('registered processor failed'); } }) });
      ctx.register('sampler', { name: 'fuzz-argmax', create: () => ({ name: 'fuzz-argmax', sample: () => 5 }) });
      ctx.register('sampler', { name: 'fuzz-garbage', create: () => ({ name: 'fuzz-garbage', sample: () => -5 }) });
      ctx.register('kv-cache', {
        name: 'fuzz-tracked',
        create: () => {
          const store = new TrackedStore();
          current()?.stores.push(store);
          return store;
        },
      });
      ctx.register('kv-cache', { name: 'fuzz-create-throws', create: () => { throw new Error('store create failed on purpose'); } });
      ctx.register('kv-cache', { name: 'fuzz-create-garbage', create: () => ({ name: 'garbage' }) as never });
      ctx.register('kv-cache', { name: 'fuzz-create-async', create: (async () => new FullPrecisionKvStore()) as never });
      ctx.addHooks({
        beforeForward({ step }) {
          const t = current();
          if (t?.abortAtStep === step) t.controller?.abort();
        },
      });
    },
  });
}

// ---- whole requests ------------------------------------------------------------------------

/** One field's chance of being set, and its generator. */
const GENERATION_FIELDS: readonly [string, number, (rng: Rng, t: Tracker) => Choice][] = [
  ['maxTokens', 0.85, (r, t) => numberField(r, t, MAX_TOKENS)],
  ['temperature', 0.3, (r, t) => numberField(r, t, TEMPERATURE)],
  ['topK', 0.2, (r, t) => numberField(r, t, TOP_K)],
  ['topP', 0.2, (r, t) => numberField(r, t, UNIT)],
  ['minP', 0.15, (r, t) => numberField(r, t, UNIT)],
  ['repetitionPenalty', 0.15, (r, t) => numberField(r, t, PENALTY)],
  ['seed', 0.3, (r, t) => numberField(r, t, SEED)],
  ['ignoreEos', 0.25, flag],
  ['stop', 0.3, stopValue],
  ['signal', 0.25, signalValue],
  ['kv', 0.3, storeValue],
  ['router', 0.25, routerValue],
  ['processors', 0.2, (r, t) => list(r, t, processorValue)],
  ['analyzers', 0.15, (r, t) => list(r, t, analyzerValue)],
  ['sampler', 0.12, samplerValue],
  ['metrics', 0.15, flag],
];

const EVALUATE_FIELDS: readonly [string, number, (rng: Rng, t: Tracker) => Choice][] = [
  ['prefillTokens', 0.5, (r, t) => numberField(r, t, [v('1', 1), v('2', 2), v('8', 8), v('100', 100), v('255', 255)])],
  ['kv', 0.4, storeValue],
  ['router', 0.35, routerValue],
  ['signal', 0.25, signalValue],
];

 /** Fields whose hostile values reach the running loop (set, with the rest valid, in half the cases). */
const RUNTIME_FIELDS = ['kv', 'router', 'processors', 'analyzers', 'sampler', 'signal', 'stop', 'maxTokens'];

export type Api = 'generate' | 'stream' | 'text' | 'evaluate' | 'generate-twice';

/** A case as the runner needs it: the request, and how to drive it. */
export interface FuzzCase {
  readonly seed: number;
  readonly api: Api;
  /** What the case is, for failure reports. */
  readonly description: string;
  readonly request: unknown;
  /** Unsubscribe (generate) or break (stream) after this many events or chunks. */
  readonly stopAfter: number | undefined;
  /** The `maxTokens` the request gives, when it is a valid one (a bound on each row's tokens). */
  readonly maxTokens: number | undefined;
  /** String stop entries (for the check that no row's text holds one). */
  readonly stops: readonly string[];
  readonly tracker: Tracker;
}

/** The case of `seed`: an API, a request built field by field, maybe a hostile whole-request shape. */
export function makeCase(seed: number): FuzzCase {
  const rng = new Rng(seed);
  const base = rng.pick([0, 0.05, 0.05, 0.15, 0.3, 0.6]);
  rng.hostility = base;
  // Half the cases keep the prompt and sampling valid and aim at one or two run-time fields (the
  // components, the signal, stop strings), so the run starts and the hostile value meets the loop.
  const focus = new Set<string>(rng.chance(0.5) ? [rng.pick(RUNTIME_FIELDS), rng.pick(RUNTIME_FIELDS)] : []);
  if (focus.size > 0) rng.hostility = 0;
  const t = new Tracker();
  const api = rng.pick<Api>(['generate', 'generate', 'generate', 'stream', 'text', 'evaluate', 'evaluate', 'generate-twice']);
  const fields: Record<string, unknown> = {};
  const labels: string[] = [];
  const set = (key: string, c: Choice): void => {
    fields[key] = c.value;
    labels.push(`${key}: ${c.label}`);
  };
  if (api === 'evaluate') {
    if (rng.chance(0.97)) set('inputIds', inputIdsValue(rng, t, true));
    for (const [key, p, make] of EVALUATE_FIELDS) {
      if (!(focus.has(key) || rng.chance(p))) continue;
      if (focus.size > 0) rng.hostility = focus.has(key) ? 0.8 : 0;
      set(key, make(rng, t));
    }
  } else {
    const source = rng.next();
    if (source < 0.45) set('prompt', promptValue(rng, t));
    else if (source < 0.65) set('messages', messagesValue(rng, t));
    else if (source < 0.95 || !rng.hostile()) set('inputIds', inputIdsValue(rng, t));
    else {
      if (rng.chance(0.5)) set('prompt', promptValue(rng, t));
      if (rng.chance(0.5)) set('inputIds', inputIdsValue(rng, t));
    }
    for (const [key, p, make] of GENERATION_FIELDS) {
      if (!(focus.has(key) || rng.chance(p))) continue;
      // A sampler replaces these (a request with both is refused): only now and then together.
      if (key === 'sampler' && ['temperature', 'topK', 'topP', 'minP'].some((k) => k in fields) && !rng.chance(0.1)) continue;
      if (focus.size > 0) rng.hostility = focus.has(key) ? 0.8 : 0;
      set(key, make(rng, t));
    }
    // maxTokens at the context's edge for an id prompt.
    if (Array.isArray(fields['inputIds']) && safely(() => typeof (fields['inputIds'] as unknown[])[0] === 'number', false) && rng.chance(0.15)) {
      const edge = CONTEXT - (fields['inputIds'] as unknown[]).length + rng.pick([-1, 0, 1]);
      set('maxTokens', { label: `context edge ${edge}`, value: edge });
    }
  }
  if (rng.hostile() && rng.chance(0.15)) set(rng.pick(['max_tokens', 'Prompt', 'foo', 'stopSequences', 'temp']), { label: 'an unknown key', value: 1 });
  const shaped = shapeRequest(rng, fields, labels);
  const maxTokens = typeof fields['maxTokens'] === 'number' && Number.isInteger(fields['maxTokens']) && (fields['maxTokens'] as number) >= 1 ? (fields['maxTokens'] as number) : undefined;
  const stops = safely(() => (Array.isArray(fields['stop']) ? (Array.from(fields['stop'] as unknown[]).filter((s) => typeof s === 'string') as string[]) : []), []);
  const stopAfter = (api === 'generate' || api === 'stream') && rng.chance(0.12) ? rng.pick([1, 2, 3, 5]) : undefined;
  return {
    seed,
    api,
    description: `${api} (hostility ${base}${focus.size > 0 ? `, aimed at ${[...focus].join(' and ')}` : ''})${stopAfter === undefined ? '' : ` (stop after ${stopAfter})`} ${shaped.label}{ ${labels.join('; ')} }`,
    request: shaped.value,
    stopAfter,
    maxTokens,
    stops,
    tracker: t,
  };
}

/** `read()`, or `fallback` when it throws (the generator must not trip over its own hostile values). */
function safely<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback;
  }
}

/** The whole request as a plain object, or one of the hostile shapes an object can take. */
function shapeRequest(rng: Rng, fields: Record<string, unknown>, labels: string[]): Choice {
  if (!(rng.hostile() && rng.chance(0.4))) return { label: '', value: fields };
  const keys = Object.keys(fields);
  const someKey = keys.length > 0 ? rng.pick(keys) : 'maxTokens';
  return rng.pick<() => Choice>([
    () => ({ label: 'frozen ', value: Object.freeze(fields) }),
    () => ({ label: 'null-prototype ', value: Object.assign(Object.create(null) as object, fields) }),
    () => ({ label: 'class instance ', value: Object.assign(new (class Request {})(), fields) }),
    () => ({ label: 'transparent Proxy ', value: transparent(fields) }),
    () => ({ label: `Proxy whose get of ${someKey} throws `, value: new Proxy(fields, { get: (tgt, k) => { if (k === someKey) throw new Error(`no ${someKey} today`); return Reflect.get(tgt, k); } }) }),
    () => ({ label: 'Proxy whose ownKeys throws ', value: new Proxy(fields, { ownKeys: () => { throw new Error('keys refused'); } }) }),
    () => ({ label: `getter of ${someKey} that throws `, value: throwingGetter({ ...fields }, someKey) }),
    () => ({ label: `getter of ${someKey} that flips to "x" `, value: Object.defineProperty({ ...fields }, someKey, { enumerable: true, get: flipping(fields[someKey], 'x') }) }),
    () => ({ label: 'with a JSON __proto__ key ', value: Object.assign(JSON.parse('{"__proto__":{"maxTokens":"x"}}') as object, fields) }),
    () => ({ label: 'inheriting its fields ', value: Object.create(fields) as object }),
    () => ({ label: 'with a symbol key ', value: { ...fields, [Symbol('extra')]: 1 } }),
    () => {
      labels.length = 0;
      return rng.pick<Choice>([
        { label: 'null', value: null },
        { label: 'undefined', value: undefined },
        { label: '"Once upon a time"', value: 'Once upon a time' },
        { label: '[1, 2, 3]', value: [1, 2, 3] },
        { label: 'Int32Array [1, 2]', value: new Int32Array([1, 2]) },
        { label: '5', value: 5 },
        { label: 'a function', value: () => fields },
        { label: 'an exploding Proxy', value: exploding(fields) },
      ]);
    },
  ])();
}

