/** The request fuzzer's plugin components, which behave or misbehave, and the plugin that registers them. */
import { definePlugin, FullPrecisionKvStore, type AttentionRouter, type KvSelection, type WeftPlugin } from '../src/index.js';
import { type Choice, exploding, type Maker, Rng, throwingGetter, THROWN, TrackedStore, Tracker, v } from './request-fuzz-kit.js';

/** Names the fuzz plugin registers (entries that behave and entries that do not). */
export const FUZZ_PLUGIN = 'request-fuzz';

export function processorValue(rng: Rng, t: Tracker): Choice {
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

export function list(rng: Rng, t: Tracker, item: (rng: Rng, t: Tracker) => Choice): Choice {
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

export function samplerValue(rng: Rng, t: Tracker): Choice {
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

export function analyzerValue(rng: Rng, t: Tracker): Choice {
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

export function storeValue(rng: Rng, t: Tracker): Choice {
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

export function routerValue(rng: Rng, t: Tracker): Choice {
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

