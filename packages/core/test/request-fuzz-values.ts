/**
 * The request fuzzer's generator (see request-fuzz.test.ts): a seeded random number generator, the
 * valid and hostile values of every field of `GenerationRequest` and `PerplexityRequest`, plugin
 * components that behave or misbehave, and the hostile shapes a whole request can take. A case is
 * made again from its seed alone: every value is built fresh, from the seed, when the case runs.
 */
import { type Choice, CONTEXT, exploding, flipping, type Maker, Rng, throwingGetter, Tracker, transparent, v, VOCAB } from './request-fuzz-kit.js';
import { processorValue, list, samplerValue, analyzerValue, storeValue, routerValue } from './request-fuzz-components.js';

export { CONTEXT, Rng, Tracker, VOCAB } from './request-fuzz-kit.js';
export { fuzzPlugin } from './request-fuzz-components.js';

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

