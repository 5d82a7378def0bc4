import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, parseNamedRef } from '@weft/core';
import { AttentionImportanceAnalyzer, AttentionScores, RouterDecisionsAnalyzer, VERSION, attentionRouters, createRouter, type ContentAwareRouter, type HeavyHitterRouter, type RouterDecision } from '../src/index.js';
import { layout, observation, routing, slotsOf, tensor } from './synthetic.js';

// Prefill of 3 tokens, 4 query heads over 2 kv heads. Rows are per query (causal).
// kv head 0 = heads 0 + 1 (identical): column sums 1.7, 0.7, 0.6 each → 3.4, 1.4, 1.2.
// kv head 1 = heads 2 + 3: columns 1.2 + 1.4, 1.7 + 1.5, 0.1 + 0.1 → 2.6, 3.2, 0.2.
const head01 = [1, 0, 0, 0.5, 0.5, 0, 0.2, 0.2, 0.6];
const head2 = [1, 0, 0, 0.1, 0.9, 0, 0.1, 0.8, 0.1];
const head3 = [1, 0, 0, 0.2, 0.8, 0, 0.2, 0.7, 0.1];
const prefillAttention = tensor([...head01, ...head01, ...head2, ...head3], [1, 4, 3, 3]);

const round = (scores: readonly Float64Array[]): number[][] => scores.map((s) => Array.from(s, (v) => +v.toFixed(6)));

describe('heavy-hitter (H2O)', () => {
  const kv = layout({ attentions: true });

  it('accumulates attention per kv head and selects per head', () => {
    const router = createRouter('heavy-hitter', { budget: 2, recent: 1 }) as HeavyHitterRouter;
    router.observe(observation(kv, { outputs: { 'attentions.0': prefillAttention }, inputIds: [[1, 2, 3]] }));
    // kv 0 keeps slot 0 (3.4 > 1.4); kv 1 keeps slot 1 (3.2 > 2.6); both keep the newest slot.
    expect(slotsOf(router.select(routing(kv, 3)))).toEqual([
      [0, 2],
      [1, 2],
    ]);
    // Next step: past 2 + 1 new. Scores follow the eviction and accumulate.
    const step1 = tensor([0.1, 0.1, 0.8, 0.1, 0.1, 0.8, 0, 0.5, 0.5, 0.5, 0, 0.5], [1, 4, 1, 3]);
    router.observe(observation(kv, { step: 1, outputs: { 'attentions.0': step1 } }));
    const scores = (router as unknown as { scores: AttentionScores }).scores.scores;
    expect(round(scores)).toEqual([
      [3.6, 1.4, 1.6],
      [3.7, 0.7, 1],
    ]);
    expect(slotsOf(router.select(routing(kv, 3, { step: 1, positions: [[0, 2, 3], [1, 2, 3]] })))).toEqual([
      [0, 2],
      [0, 2],
    ]);
  });

  it('selects shared slots (scores summed over heads) for batches or perHead=false', () => {
    // Summed: 6.0, 4.6, 1.4 → slot 0 plus the newest.
    const batch = createRouter('heavy-hitter', { budget: 2, recent: 1 });
    batch.observe!(observation(kv, { outputs: { 'attentions.0': prefillAttention } }));
    expect(batch.select(routing(kv, 3, { batchSize: 2 }))).toEqual({ kind: 'shared', slots: [0, 2] });
    const shared = createRouter('heavy-hitter', { budget: 2, recent: 1, perHead: false });
    shared.observe!(observation(kv, { outputs: { 'attentions.0': prefillAttention } }));
    expect(shared.select(routing(kv, 3))).toEqual({ kind: 'shared', slots: [0, 2] });
  });

  it('sums layers and keeps everything while the cache fits', () => {
    const two = layout({ attentions: true, layers: 2 });
    const router = createRouter('heavy-hitter', { budget: 3 }) as HeavyHitterRouter;
    router.observe(observation(two, { outputs: { 'attentions.0': prefillAttention, 'attentions.1': prefillAttention } }));
    expect(router.select(routing(two, 3))).toBeUndefined();
    const scores = (router as unknown as { scores: AttentionScores }).scores.scores;
    expect(round(scores)).toEqual([
      [6.8, 2.8, 2.4],
      [5.2, 6.4, 0.4],
    ]);
  });

  it('restarts its scores when a new run begins', () => {
    const router = createRouter('heavy-hitter', { budget: 2, recent: 1 }) as HeavyHitterRouter;
    router.observe(observation(kv, { outputs: { 'attentions.0': prefillAttention } }));
    router.select(routing(kv, 3));
    router.observe(observation(kv, { outputs: { 'attentions.0': prefillAttention } }));
    const scores = (router as unknown as { scores: AttentionScores }).scores.scores;
    expect(round(scores)).toEqual([
      [3.4, 1.4, 1.2],
      [2.6, 3.2, 0.2],
    ]);
  });

  it('explains how to get attention outputs when the graph has none', () => {
    const router = createRouter('heavy-hitter', { budget: 2 });
    expect(() => router.observe!(observation(layout(), {}))).toThrow(/model_with_attentions\.onnx.*key-norm/s);
  });
});

describe('key-norm', () => {
  const kv = layout();
  // Head 0 norms 5, 1, 2; head 1 norms ~1.414, 3, 0.5.
  const keys = tensor([3, 4, 1, 0, 0, 2, 1, 1, 3, 0, 0, 0.5], [1, 2, 3, 2]);

  it('keeps the lowest-norm older keys per head plus the newest', () => {
    const router = createRouter('key-norm', { budget: 2, recent: 1 });
    router.observe!(observation(kv, { outputs: { 'present.0.key': keys } }));
    expect(slotsOf(router.select(routing(kv, 3)))).toEqual([
      [1, 2],
      [0, 2],
    ]);
  });

  it('sums norms over heads for a shared selection', () => {
    // Sums 6.414, 4, 2.5: slot 1 is the lowest older one.
    const router = createRouter('key-norm', { budget: 2, recent: 1 });
    const batch = tensor([...(keys.data as Float32Array), ...(keys.data as Float32Array)], [2, 2, 3, 2]);
    router.observe!(observation(kv, { outputs: { 'present.0.key': batch }, batchSize: 2 }));
    expect(router.select(routing(kv, 3, { batchSize: 2 }))).toEqual({ kind: 'shared', slots: [1, 2] });
    const single = createRouter('key-norm', { budget: 2, recent: 1, perHead: false });
    single.observe!(observation(kv, { outputs: { 'present.0.key': keys } }));
    expect(single.select(routing(kv, 3))).toEqual({ kind: 'shared', slots: [1, 2] });
  });

  it('averages norms over layers', () => {
    const two = layout({ layers: 2 });
    const other = tensor([0, 0, 9, 9, 0, 0, 0, 0, 0, 0, 0, 0], [1, 2, 3, 2]);
    const router = createRouter('key-norm', { budget: 2, recent: 0 });
    router.observe!(observation(two, { outputs: { 'present.0.key': keys, 'present.1.key': other } }));
    // Head 0: (5 + 0) / 2, (1 + 12.73) / 2, (2 + 0) / 2 → lowest two are slots 0 and 2.
    expect(slotsOf(router.select(routing(two, 3)))).toEqual([
      [0, 2],
      [0, 2],
    ]);
  });
});

describe('hybrid', () => {
  const kv = layout();
  const keys = tensor([3, 4, 1, 0, 0, 2, 1, 1, 3, 0, 0, 0.5, 0, 1, 1, 0, 1, 0, 0, 1], [1, 2, 5, 2]);

  it('keeps the window plus the most important older tokens', () => {
    const router = createRouter('hybrid', { budget: 3, window: 1 });
    router.observe!(observation(kv, { outputs: { 'present.0.key': keys } }));
    expect(router.select(routing(kv, 5, { importance: [0.1, 0.9, 0.3, 0.2, 0.5] }))).toEqual({ kind: 'shared', slots: [1, 2, 4] });
  });

  it('falls back to key norms, or to recency, without an importance', () => {
    const router = createRouter('hybrid', { budget: 3, window: 1 });
    router.observe!(observation(kv, { outputs: { 'present.0.key': keys } }));
    // Norms summed over heads: 5.5, 2, 3, 2.414, 4 → the two lowest older are slots 1 and 3.
    expect(router.select(routing(kv, 5))).toEqual({ kind: 'shared', slots: [1, 3, 4] });
    expect((router as unknown as { lastDecision: { policy: string } }).lastDecision.policy).toBe('key-norm');
    const recency = createRouter('hybrid', { budget: 3, fallback: 'recency' });
    expect(recency.select(routing(kv, 5))).toEqual({ kind: 'shared', slots: [2, 3, 4] });
  });

  it('attention-importance is what the newest query of each row attends to, not the prefill column sums', () => {
    const att = layout({ attentions: true });
    // Row 0: the prefill above (last query rows: 0.2 0.2 0.6 twice, 0.1 0.8 0.1, 0.2 0.7 0.1 → 0.7, 1.9, 1.4;
    // its column sums 6.0, 4.6, 1.4 would rank slot 0 first). Row 1: every head's last query reads slot 2.
    const second = [1 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 3, 0, 0, 1];
    const batch = tensor([...(prefillAttention.data as Float32Array), ...second, ...second, ...second, ...second], [2, 4, 3, 3]);
    const analyzer = new AttentionImportanceAnalyzer();
    analyzer.observe(observation(att, { batchSize: 2, outputs: { 'attentions.0': batch } }));
    expect(Array.from(analyzer.importance()!, (v) => +v.toFixed(5))).toEqual([0.7, 1.9, 5.4]);
    // Alone, row 0 makes hybrid keep slot 1 (the newest query's choice) with the newest slot.
    analyzer.observe(observation(att, { outputs: { 'attentions.0': prefillAttention } }));
    const router = createRouter('hybrid', { budget: 2, window: 1 });
    expect(router.select({ ...routing(att, 3), importance: analyzer.importance()! })).toEqual({ kind: 'shared', slots: [1, 2] });
  });

  it('rejects an importance of the wrong length', () => {
    const router = createRouter('hybrid', { budget: 3, fallback: 'recency' });
    expect(() => router.select(routing(kv, 5, { importance: [1, 2] }))).toThrow(/2 values but the cache holds 5/);
  });
});

describe('positional routers', () => {
  const kv = layout();
  it('window, sink-window, strided and full', () => {
    expect(createRouter('full').select(routing(kv, 50))).toBeUndefined();
    expect(createRouter('window', { window: 3 }).select(routing(kv, 5))).toEqual({ kind: 'shared', slots: [2, 3, 4] });
    expect(createRouter('sink-window', { sinks: 1, window: 2 }).select(routing(kv, 5))).toEqual({ kind: 'shared', slots: [0, 3, 4] });
    expect(createRouter('strided', { budget: 4, window: 2, stride: 2 }).select(routing(kv, 8))).toEqual({ kind: 'shared', slots: [2, 4, 6, 7] });
    expect(createRouter('sink-window', { sinks: 1, window: 2, positions: 'cache' }).positions).toBe('cache');
  });

  it('strided selects per head when heads hold different positions', () => {
    const positions = [
      [0, 1, 2, 3, 4],
      [0, 2, 3, 4, 5],
    ];
    const ctx = { ...routing(kv, 5, { positions }), nextPosition: 6 };
    expect(createRouter('strided', { budget: 3, window: 1, stride: 2 }).select(ctx)).toEqual({
      kind: 'per-head',
      slots: [
        [0, 2, 4],
        [1, 3, 4],
      ],
    });
  });
});

describe('router-decisions', () => {
  const kv = layout();

  it("lets go of an earlier request's analyzer when a reused router instance serves the next request", () => {
    const router = createRouter('window', { budget: 2 });
    const seen: RouterDecision[] = [];
    router.onDecision((d) => seen.push(d));
    /** One request: a new analyzer observes each step before the router, as core does. */
    const request = (analyzer: RouterDecisionsAnalyzer, steps: number) => {
      for (let step = 0; step < steps; step++) {
        const o = observation(kv, { step });
        analyzer.observe(o);
        router.observe(o);
        router.select(routing(kv, 3, { step }));
      }
    };
    const first = new RouterDecisionsAnalyzer();
    request(first, 2);
    // The request's next step publishes the decision made after step 1.
    expect(first.observe(observation(kv, { step: 2 }))).toMatchObject({ router: 'window', step: 1 });
    const second = new RouterDecisionsAnalyzer();
    request(second, 3);
    // The first request is over: its analyzer no longer hears (nor is held by) the router.
    expect(first.observe(observation(kv, { step: 3 }))).toBeUndefined();
    expect(second.observe(observation(kv, { step: 3 }))).toMatchObject({ router: 'window', step: 2 });
    // Listeners added with onDecision stay.
    expect(seen).toHaveLength(5);
  });

  it('starts afresh when one analyzer instance serves a later request', () => {
    /** One request's steps, in core's order: the analyzer observes, then the router decides. */
    const request = (analyzer: RouterDecisionsAnalyzer, router: ReturnType<typeof createRouter> | undefined, steps: number) => {
      const published: unknown[] = [];
      for (let step = 0; step < steps; step++) {
        const o = observation(kv, { step });
        published.push(analyzer.observe(o));
        router?.observe!(o);
        router?.select(routing(kv, 3, { step }));
      }
      return published;
    };
    const analyzer = new RouterDecisionsAnalyzer();
    const first = createRouter('window', { budget: 2 });
    expect(request(analyzer, first, 3).map((d) => (d as RouterDecision | undefined)?.step)).toEqual([undefined, 0, 1]);
    // Step 0 of the next request has no decision yet (not the first request's last one, step 2).
    const second = createRouter('sink-window', { sinks: 1, window: 1 });
    const published = request(analyzer, second, 2) as (RouterDecision | undefined)[];
    expect(published[0]).toBeUndefined();
    expect(published[1]).toMatchObject({ router: 'sink-window', step: 0 });
    // A request without a router of this package publishes nothing, even while the router the
    // analyzer heard before decides for another request.
    const third: unknown[] = [];
    for (let step = 0; step < 3; step++) {
      third.push(analyzer.observe(observation(kv, { step })));
      second.observe(observation(kv, { step }));
      second.select(routing(kv, 3, { step }));
    }
    expect(third).toEqual([undefined, undefined, undefined]);
  });
});

describe('content-aware', () => {
  const kv = layout();
  const keys = (n: number) => tensor(Array.from({ length: 2 * n * 2 }, (_, i) => (i % 7) + 1), [1, 2, n, 2]);
  const peaked = [20, 0, 0, 0];
  const flat = [0, 0, 0, 0];

  it('keeps everything while the context fits, then picks by entropy and repetition', () => {
    const router = createRouter('content-aware', { budget: 4, sinks: 1, entropy: 1, repetition: 0.3 }) as ContentAwareRouter;
    router.observe(observation(kv, { inputIds: [[1, 2, 3]], logits: [peaked], outputs: { 'present.0.key': keys(3) } }));
    expect(router.select(routing(kv, 3))).toBeUndefined();
    expect(router.lastDecision).toMatchObject({ policy: 'full', reason: 'fits', kept: 3, evicted: 0 });

    // Confident and varied: sink-window (1 sink + 3 newest).
    router.observe(observation(kv, { step: 1, inputIds: [[4]], logits: [peaked], outputs: { 'present.0.key': keys(4) } }));
    router.observe(observation(kv, { step: 1, inputIds: [[5]], logits: [peaked], outputs: { 'present.0.key': keys(5) } }));
    expect(router.select(routing(kv, 5))).toEqual({ kind: 'shared', slots: [0, 2, 3, 4] });
    expect(router.lastDecision).toMatchObject({ policy: 'sink-window', reason: 'confident', kept: 4, evicted: 1 });

    // Uncertain (entropy ln 4 ≥ 1): the importance method (key-norm: no attentions here).
    router.observe(observation(kv, { step: 2, inputIds: [[6]], logits: [flat], outputs: { 'present.0.key': keys(5) } }));
    router.select(routing(kv, 5));
    expect(router.lastDecision).toMatchObject({ policy: 'key-norm', reason: 'uncertain' });
    expect(router.lastDecision?.signals?.entropy).toBeCloseTo(Math.log(4), 5);

    // Looping ids: importance method again, for repetition.
    for (const id of [1, 2, 3, 1, 2, 3, 1, 2, 3]) router.observe(observation(kv, { step: 3, inputIds: [[id]], logits: [peaked], outputs: { 'present.0.key': keys(5) } }));
    router.select(routing(kv, 5));
    expect(router.lastDecision).toMatchObject({ policy: 'key-norm', reason: 'repetition' });
  });

  it('reads a prompt longer than a call can take as arguments (a long-context prefill)', () => {
    const router = createRouter('content-aware', { budget: 4, sinks: 1, repetitionWindow: 8 }) as ContentAwareRouter;
    const n = 300_000;
    // Distinct ids except the last 8, a loop: the repetition is measured over those only.
    const ids = Array.from({ length: n }, (_, i) => (i < n - 8 ? i : [1, 2, 3][i % 3]!));
    router.observe(observation(kv, { inputIds: [ids], logits: [peaked], outputs: { 'present.0.key': keys(5) } }));
    router.select(routing(kv, 5));
    expect(router.lastDecision).toMatchObject({ policy: 'key-norm', reason: 'repetition' });
    expect(router.lastDecision?.signals?.repetition).toBeCloseTo(3 / 6, 10);
  });

  it('decides once per request in request mode', () => {
    const router = createRouter('content-aware', { budget: 4, sinks: 1, entropy: 1, mode: 'request' }) as ContentAwareRouter;
    router.observe(observation(kv, { inputIds: [[1, 2, 3, 4, 5]], logits: [peaked], outputs: { 'present.0.key': keys(5) } }));
    router.select(routing(kv, 5));
    expect(router.lastDecision).toMatchObject({ policy: 'sink-window', reason: 'confident' });
    router.observe(observation(kv, { step: 1, inputIds: [[6]], logits: [flat], outputs: { 'present.0.key': keys(5) } }));
    router.select(routing(kv, 5));
    expect(router.lastDecision).toMatchObject({ policy: 'sink-window', reason: 'locked' });
  });

  it('uses heavy-hitter when the graph exports attentions, keeping its scores in step', () => {
    const att = layout({ attentions: true });
    const router = createRouter('content-aware', { budget: 2, sinks: 1, entropy: 1 }) as ContentAwareRouter;
    router.observe(observation(att, { inputIds: [[1, 2, 3]], logits: [peaked], outputs: { 'attentions.0': prefillAttention } }));
    // Confident: sink-window evicts slot 1; heavy-hitter's scores follow.
    expect(router.select(routing(att, 3))).toEqual({ kind: 'shared', slots: [0, 2] });
    const step1 = tensor([0.1, 0.1, 0.8, 0.1, 0.1, 0.8, 0, 0.5, 0.5, 0.5, 0, 0.5], [1, 4, 1, 3]);
    router.observe(observation(att, { step: 1, inputIds: [[4]], logits: [flat], outputs: { 'attentions.0': step1 } }));
    // kv 0: 3.4 + 0.2, 1.2 + 0.2, 1.6; kv 1: 2.6 + 0.5, 0.2 + 0.5, 1.0 → both keep slot 0.
    expect(router.select(routing(att, 3, { step: 1 }))).toEqual({ kind: 'per-head', slots: [[0, 2], [0, 2]] });
    expect(router.lastDecision).toMatchObject({ policy: 'heavy-hitter', reason: 'uncertain', selection: 'per-head' });
  });
});

describe('options', () => {
  it('validates strictly and lists the valid options', () => {
    const bad = (name: string, options: unknown): InvalidOptionsError => {
      try {
        createRouter(name, options);
      } catch (error) {
        expect(InvalidOptionsError.isInstance(error)).toBe(true);
        return error as InvalidOptionsError;
      }
      throw new Error('expected an InvalidOptionsError');
    };
    expect(bad('sink-window', { sink: 4 }).message).toMatch(/unknown option "sink".*Valid options: sinks \(integer >= 0.*window.*budget.*positions/);
    expect(bad('window', { window: 0 }).message).toMatch(/option "window" must be integer >= 1 \(got 0\)/);
    expect(bad('window', { window: '12x' }).message).toMatch(/must be integer/);
    expect(bad('key-norm', { perHead: 'yes' }).message).toMatch(/true or false/);
    expect(bad('full', { budget: 10 }).message).toMatch(/unknown option "budget".*Valid options: positions/);
    expect(bad('sink-window', { sinks: 4, window: 10, budget: 20 }).message).toMatch(/sinks \(4\) \+ window \(10\) must equal budget \(20\)/);
    expect(bad('heavy-hitter', { budget: 10, recent: 12 }).message).toMatch(/heavy = -2/);
    expect(bad('window', { window: 8, budget: 9 }).message).toMatch(/same knob/);
    expect(bad('content-aware', { repetition: 2 }).message).toMatch(/number in \[0, 1\]/);
    // Numbers as strings are decimal, as integers are ('0x10' is not 16).
    expect(bad('content-aware', { entropy: '0x10' }).message).toMatch(/option "entropy" must be number >= 0 \(got "0x10"\)/);
    expect(bad('content-aware', { repetition: '0b1' }).message).toMatch(/option "repetition" must be number in \[0, 1\]/);
    expect(createRouter('content-aware', { entropy: ' 1.5e0 ', repetition: '.25' })).toMatchObject({ settings: { entropy: 1.5, repetition: 0.25 } });
    expect(bad('window', { positions: 'relative' }).message).toMatch(/absolute \| cache/);
    expect(bad('nope', {}).message).toMatch(/Unknown attention router "nope".*sink-window/);
    expect(bad('window', [1]).message).toMatch(/options must be an object/);
    // Keys that exist on Object.prototype are unknown options like any other.
    expect(bad('window', { toString: 5 }).message).toMatch(/unknown option "toString"/);
    expect(bad('window', JSON.parse('{"__proto__": 5}')).message).toMatch(/unknown option "__proto__"/);
    // content-aware's sinks must leave room for its window, as sink-window's must.
    expect(bad('content-aware', { budget: 16, sinks: 100 }).message).toMatch(/sinks \(100\) must be below budget \(16\)/);
    expect(() => createRouter('content-aware', { budget: 3 })).not.toThrow(); // the default sinks shrink to fit
  });

  it('parses CLI strings and fills budgets from any two parts', () => {
    const sw = createRouter('sink-window', { sinks: '2', window: '30', positions: 'cache' });
    expect(sw).toMatchObject({ sinks: 2, window: 30, budget: 32, positions: 'cache' });
    expect(createRouter('sink-window', { budget: 64 })).toMatchObject({ sinks: 4, window: 60 });
    expect(createRouter('sink-window', { window: 256 })).toMatchObject({ sinks: 4, budget: 260 });
    expect(createRouter('sink-window')).toMatchObject({ sinks: 4, window: 252, budget: 256 });
    expect(createRouter('heavy-hitter', { budget: '64' })).toMatchObject({ budget: 64, recent: 32 });
    expect(createRouter('heavy-hitter', { heavy: 10 })).toMatchObject({ budget: 20, recent: 10 });
    expect(createRouter('heavy-hitter', { budget: 64, heavy: 48, perHead: 'false' })).toMatchObject({ recent: 16, perHead: false });
    expect(createRouter('window', { budget: 7 })).toMatchObject({ budget: 7 });
    expect(createRouter('content-aware', { entropy: '1.5', mode: 'request' })).toMatchObject({ settings: { entropy: 1.5, mode: 'request', budget: 256 } });
  });

  it('shrinks the default sinks of a small sink-window budget, leaving the window at least one token', () => {
    expect(createRouter('sink-window', { budget: 5 })).toMatchObject({ sinks: 4, window: 1, budget: 5 });
    expect(createRouter('sink-window', { budget: 4 })).toMatchObject({ sinks: 3, window: 1, budget: 4 });
    expect(createRouter('sink-window', { budget: 1 })).toMatchObject({ sinks: 0, window: 1, budget: 1 });
    expect(createRouter('sink-window', { budget: 3 }).select(routing(layout(), 6))).toEqual({ kind: 'shared', slots: [0, 1, 5] });
    // Sinks the caller gives are not shrunk.
    expect(() => createRouter('sink-window', { budget: 4, sinks: 4 })).toThrow(/window = 0/);
  });
});

describe('routers from the CLI form', () => {
  it('accept the options parseNamedRef reads from name:key=value,…', () => {
    const { name, options } = parseNamedRef('sink-window:sinks=4,window=252');
    expect(createRouter(name, options)).toMatchObject({ sinks: 4, window: 252, budget: 256 });
    // Strings as well (values the parser leaves alone are validated by the router).
    expect(createRouter('sink-window', { sinks: '4', window: '60' })).toMatchObject({ sinks: 4, window: 60, budget: 64 });
    expect(() => createRouter('window', { budget: 'many' })).toThrow(/budget/);
  });

  it('reserve half the budget for recent slots by default and reject a part larger than the budget', () => {
    expect(createRouter('key-norm', { budget: 64 })).toMatchObject({ budget: 64, recent: 32 });
    expect(createRouter('hybrid', { budget: 100 })).toMatchObject({ budget: 100, window: 50 });
    expect(createRouter('strided', { budget: 1 })).toMatchObject({ budget: 1, window: 1 });
    expect(() => createRouter('key-norm', { budget: 16, recent: 17 })).toThrow(/recent \(17\) exceeds budget \(16\)/);
    expect(() => createRouter('hybrid', { budget: 16, window: 20 })).toThrow(/window \(20\) exceeds budget \(16\)/);
    expect(() => createRouter('strided', { budget: 8, window: 9 })).toThrow(/window \(9\) exceeds budget \(8\)/);
  });

  it('refuse two parts that add up to an empty budget', () => {
    for (const options of [{ recent: 0, heavy: 0 }, { recent: '0', heavy: '0' }]) {
      expect(() => createRouter('heavy-hitter', options)).toThrow(InvalidOptionsError);
      expect(() => createRouter('heavy-hitter', options)).toThrow(/recent \(0\) \+ heavy \(0\) make a budget of 0; keep at least 1 token/);
    }
    expect(createRouter('heavy-hitter', { recent: 0, heavy: 1 })).toMatchObject({ budget: 1 });
  });

  it('refuse a misspelled attentionRouters option instead of ignoring it', () => {
    expect(() => attentionRouters({ defualt: { router: 'window' } } as never)).toThrow(InvalidOptionsError);
    expect(() => attentionRouters({ defualt: { router: 'window' } } as never)).toThrow(/attentionRouters has no option "defualt" \(it takes default\)/);
  });

  it('refuse a default that is not { router, options? } instead of ignoring its options', () => {
    expect(() => attentionRouters({ default: { router: 'window', opts: { budget: 64 } } } as never)).toThrow(/attentionRouters default has no option "opts" \(it takes router, options\)/);
    expect(() => attentionRouters({ default: null } as never)).toThrow(/default must be \{ router, options\? \}.*\(got null\)/);
    expect(() => attentionRouters({ default: 'window' } as never)).toThrow(/default must be \{ router, options\? \}.*\(got "window"\)/);
    expect(() => attentionRouters({ default: { router: 'window', options: { budget: 64 } } })).not.toThrow();
    expect(() => attentionRouters({ default: undefined } as never)).not.toThrow();
  });

  it('show values JSON cannot spell as they are (NaN, Infinity, BigInt) in option errors', () => {
    expect(() => createRouter('window', { budget: Number.NaN })).toThrow(/\(got NaN\)/);
    expect(() => createRouter('window', { budget: Number.POSITIVE_INFINITY })).toThrow(/\(got Infinity\)/);
    expect(() => createRouter('window', { budget: 32n })).toThrow(InvalidOptionsError);
    expect(() => createRouter('window', { budget: 32n })).toThrow(/\(got 32n\)/);
  });
});

it('VERSION matches package.json', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  expect(VERSION).toBe(pkg.version);
});
