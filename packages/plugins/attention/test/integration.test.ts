import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isAnalysisOf, tensorFloat32, type AttentionRouter, type KvSelection, type RoutingContext, type WeftModel } from '@weft/core';
import { attentionRouters, createRouter, ROUTER_DECISIONS, sinkWindow, type RouterDecision } from '../src/index.js';
import { ATTENTIONS_GRAPH, collect, done, feedSpy, runtime, storyModel, tinyModel, type FeedRecord } from './helpers.js';

const BUDGET = 16;
/** Every router with a budget of 16 tokens (content-aware with a low entropy bar, so it switches). */
const ROUTERS: Readonly<Record<string, Record<string, unknown>>> = {
  window: { budget: BUDGET },
  'sink-window': { sinks: 4, window: BUDGET - 4 },
  strided: { budget: BUDGET, stride: 3 },
  'key-norm': { budget: BUDGET },
  hybrid: { budget: BUDGET },
  'content-aware': { budget: BUDGET, entropy: 1 },
};
const ATTENTION_ROUTERS: Readonly<Record<string, Record<string, unknown>>> = { ...ROUTERS, 'heavy-hitter': { budget: BUDGET } };

/** Bytes of one cached token: layers × (key + value) × kv heads × head dim × 4. */
const slotBytes = (model: WeftModel): number => model.layout.numLayers * 2 * model.layout.numKvHeads * model.layout.headDim * 4;

/** Wraps a router and records the cache size it leaves after every step. */
function measured(inner: AttentionRouter, after: number[]): AttentionRouter {
  return {
    specificationVersion: 'v1',
    name: `measured-${inner.name}`,
    ...(inner.positions ? { positions: inner.positions } : {}),
    observe: (o) => inner.observe?.(o),
    select(context: RoutingContext): KvSelection | undefined {
      const s = inner.select(context);
      after.push(s === undefined ? context.cacheLength : s.kind === 'shared' ? s.slots.length : s.slots[0]!.length);
      return s;
    },
  };
}

describe('routers on the tiny fixture', () => {
  const records: FeedRecord[] = [];
  const weft = runtime([attentionRouters(), feedSpy(records)]);
  let model: WeftModel;
  beforeAll(async () => {
    model = await weft.load(tinyModel);
  });
  afterAll(() => weft.dispose());

  it('full generates exactly the tokens of no router', async () => {
    const request = { prompt: 'Once upon a time, there was a little fox', maxTokens: 40 };
    const plain = done(await collect(model.generate(request)));
    const full = done(await collect(model.generate({ ...request, router: 'full' })));
    expect(full.rows[0]!.ids).toEqual(plain.rows[0]!.ids);
    expect(full.kvBytes).toBe(plain.kvBytes);
    const inputIds = model.tokenizer.encode('Once upon a time, there was a little fox named Tom.');
    const [none, kept] = await Promise.all([model.evaluate({ inputIds }), model.evaluate({ inputIds, router: 'full' })]);
    expect(kept.nll).toBe(none.nll);
  });

  it.each(Object.entries(ROUTERS))('%s generates with at most budget + 1 positions per step', async (name, options) => {
    for (const prompt of ['Once upon a time', 'Once upon a time, there was a little fox named Tom. Tom lived in a big forest with his mother.']) {
      records.length = 0;
      const ids = model.tokenizer.encode(prompt);
      const last = done(await collect(model.generate({ inputIds: ids, maxTokens: 40, router: { name, options } })));
      expect(last.rows[0]!.ids.length).toBeGreaterThan(0);
      // The prompt is prefilled whole; from then on the model sees at most budget + the new token.
      expect(records[0]!.maskLength).toBe(ids.length);
      for (const r of records.slice(1)) expect(r.maskLength).toBeLessThanOrEqual(BUDGET + 1);
      if (ids.length + last.rows[0]!.ids.length > BUDGET + 1) expect(last.kvBytes).toBeLessThanOrEqual(BUDGET * slotBytes(model));
    }
  });

  it.each(Object.entries(ROUTERS))('evaluate() works with %s under the budget', async (name, options) => {
    const inputIds = model.tokenizer.encode('Once upon a time, there was a little fox named Tom. Tom lived in a big forest. He liked to play with his friends every day.');
    const after: number[] = [];
    const result = await model.evaluate({ inputIds, router: measured(createRouter(name, options), after) });
    expect(Number.isFinite(result.perplexity)).toBe(true);
    expect(after.length).toBe(inputIds.length - 1);
    expect(Math.max(...after)).toBeLessThanOrEqual(BUDGET);
    expect(result.kvBytes).toBe(BUDGET * slotBytes(model));
    // By name as well (the registry path).
    const named = await model.evaluate({ inputIds, router: { name, options } });
    expect(named.perplexity).toBeCloseTo(result.perplexity, 6);
  });

  it('numbers new tokens within the cache with positions=cache', async () => {
    records.length = 0;
    await collect(model.generate({ prompt: 'Once upon a time, there was a little fox', maxTokens: 30, router: { name: 'sink-window', options: { sinks: 2, window: 6, positions: 'cache' } } }));
    expect(records.slice(1).every((r) => r.lastPosition <= 8)).toBe(true);
    expect(records.at(-1)!.lastPosition).toBe(8);
  });

  it('per-head routers fall back to shared slots for padded batches', async () => {
    for (const router of [{ name: 'key-norm', options: { budget: 8 } }, { name: 'content-aware', options: { budget: 8, entropy: 0 } }]) {
      const events = await collect(model.generate({ prompt: ['Once', 'Once upon a time, there was a fox'], maxTokens: 24, router }));
      expect(done(events).rows).toHaveLength(2);
    }
  });

  it('heavy-hitter and attention-importance explain that the graph has no attention outputs', async () => {
    await expect(collect(model.generate({ prompt: 'Once upon a time', maxTokens: 4, router: 'heavy-hitter' }))).rejects.toThrow(/no attentions\.\{i\} outputs.*model_with_attentions\.onnx/s);
    await expect(collect(model.generate({ prompt: 'Once upon a time', maxTokens: 4, analyzers: ['attention-importance'] }))).rejects.toThrow(/attention-importance/);
  });

  it('rejects bad router options when the request is made', async () => {
    await expect(collect(model.generate({ prompt: 'Once', maxTokens: 2, router: { name: 'window', options: { windw: 8 } } }))).rejects.toThrow(/unknown option "windw".*Valid options: budget/);
  });

  it('publishes content-aware decisions through the router-decisions analyzer', async () => {
    const events = await collect(
      model.generate({ prompt: 'Once upon a time, there was a little fox', maxTokens: 30, router: { name: 'content-aware', options: { budget: 8 } }, analyzers: [ROUTER_DECISIONS] }),
    );
    // The typed name brings RouterDecision: no type argument.
    const decisions: RouterDecision[] = events.flatMap((e) => (isAnalysisOf(e, ROUTER_DECISIONS) ? [e.data] : []));
    const tokens = events.filter((e) => e.type === 'token').length;
    expect(decisions.length).toBe(tokens - 1);
    expect(decisions.every((d) => d.router === 'content-aware' && d.signals !== undefined)).toBe(true);
    expect(decisions.at(-1)).toMatchObject({ kept: 8, evicted: 1 });
    expect(new Set(decisions.map((d) => d.policy)).size).toBeGreaterThanOrEqual(1);
    // Decision i was made after step i and shapes the cache of step i + 1.
    expect(decisions.map((d) => d.step)).toEqual(decisions.map((_, i) => i));
  });

  it('keeps generating, and publishing decisions, when an onDecision listener throws or rejects', async () => {
    const request = { prompt: 'Once upon a time, there was a little fox', maxTokens: 12, analyzers: ['router-decisions'] };
    const decisionsOf = (events: Awaited<ReturnType<typeof collect>>) =>
      events.flatMap((e) => (isAnalysisOf<RouterDecision>(e, 'router-decisions') ? [e.data] : []));
    const plain = await collect(model.generate({ ...request, router: createRouter('content-aware', { budget: 6, entropy: 1 }) }));
    expect(decisionsOf(plain)).toHaveLength(11);
    const router = createRouter('content-aware', { budget: 6, entropy: 1 });
    const heard: number[] = [];
    // Added before the request's analyzer links itself: a throw must not keep the decision from it.
    router.onDecision(() => {
      throw new Error('listener bug');
    });
    router.onDecision((d) => void heard.push(d.step));
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      for (const run of [1, 2]) {
        const events = await collect(model.generate({ ...request, router }));
        expect(done(events).rows[0]!.ids).toEqual(done(plain).rows[0]!.ids);
        expect(decisionsOf(events)).toEqual(decisionsOf(plain));
        expect(router.lastDecision).toMatchObject({ router: 'content-aware', step: 11 });
        // One warning per run, however many decisions the listener failed on.
        expect(warn).toHaveBeenCalledTimes(run);
      }
      expect(warn.mock.calls[0]![0]).toMatch(/onDecision listener of the "content-aware" router failed on the decision after step 0 \(listener bug\)/);
      expect(heard).toEqual([...Array(12).keys(), ...Array(12).keys()]);

      // A listener whose promise rejects: reported once, the stream unchanged.
      warn.mockClear();
      const rejecting = createRouter('content-aware', { budget: 6, entropy: 1 });
      rejecting.onDecision(async () => {
        throw new Error('async listener bug');
      });
      const events = await collect(model.generate({ ...request, router: rejecting }));
      expect(done(events).rows[0]!.ids).toEqual(done(plain).rows[0]!.ids);
      await new Promise((resolve) => setTimeout(resolve, 0));
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0]![0]).toMatch(/failed on the decision after step 0 \(async listener bug\)/);
    } finally {
      warn.mockRestore();
    }
  });

  it('links decisions to the router of the same request, even for requests started together', async () => {
    const decisionsOf = (events: Awaited<ReturnType<typeof collect>>) =>
      events.flatMap((e) => (isAnalysisOf<RouterDecision>(e, 'router-decisions') ? [e.data] : []));
    const prompt = 'Once upon a time, there was a little fox';
    const instance = createRouter('sink-window', { sinks: 2, window: 6 });
    const [noRouter, named, other, direct] = await Promise.all([
      collect(model.generate({ prompt, maxTokens: 12, analyzers: ['router-decisions'] })),
      collect(model.generate({ prompt, maxTokens: 12, router: { name: 'window', options: { budget: 6 } }, analyzers: ['router-decisions'] })),
      collect(model.generate({ prompt, maxTokens: 12, router: { name: 'strided', options: { budget: 5 } } })),
      collect(model.generate({ prompt, maxTokens: 12, router: instance, analyzers: ['router-decisions'] })),
    ]);
    expect(decisionsOf(noRouter)).toEqual([]);
    expect(decisionsOf(other)).toEqual([]);
    expect(decisionsOf(named).every((d) => d.router === 'window' && d.kept <= 6)).toBe(true);
    expect(decisionsOf(named).length).toBe(11);
    expect(decisionsOf(direct).every((d) => d.router === 'sink-window' && d.kept <= 8)).toBe(true);
    expect(decisionsOf(direct).length).toBe(11);
    expect(instance.lastDecision).toMatchObject({ router: 'sink-window', kept: 8 });
  });

  it('lists every router and analyzer in the registry', () => {
    expect(weft.registry.list('attention-router').map((e) => e.name).sort()).toEqual(
      ['content-aware', 'full', 'heavy-hitter', 'hybrid', 'key-norm', 'sink-window', 'strided', 'window'].sort(),
    );
    expect(weft.registry.list('analyzer').map((e) => e.name).sort()).toEqual(['attention-importance', 'router-decisions']);
  });
});

describe('runtime defaults', () => {
  it('sinkWindow() makes sink-window the router of requests that name none', async () => {
    const records: FeedRecord[] = [];
    const weft = runtime([sinkWindow({ sinks: 2, window: 10 }), feedSpy(records)]);
    const model = await weft.load(tinyModel);
    const last = done(await collect(model.generate({ prompt: 'Once upon a time, there was a little fox', maxTokens: 24 })));
    expect(last.kvBytes).toBe(12 * slotBytes(model));
    expect(records.slice(1).every((r) => r.maskLength <= 13)).toBe(true);
    // A request still picks another router (or full) by name.
    const full = done(await collect(model.generate({ prompt: 'Once upon a time, there was a little fox', maxTokens: 24, router: 'full' })));
    expect(full.kvBytes).toBeGreaterThan(12 * slotBytes(model));
    await weft.dispose();
  });

  it('rejects bad default options where the plugin is written, and a second copy of the plugin', async () => {
    expect(() => sinkWindow({ sinks: 4, window: 0 })).toThrow(/window.*integer >= 1/);
    const weft = runtime([attentionRouters(), sinkWindow()]);
    await expect(weft.ready()).rejects.toThrow(/already installed/);
    await weft.dispose();
  });
});

describe('routers on models/story (attention outputs)', () => {
  const records: FeedRecord[] = [];
  const weft = runtime([attentionRouters(), feedSpy(records)]);
  let model: WeftModel;
  let plainModel: WeftModel;
  let prompt: number[];
  beforeAll(async () => {
    model = await weft.load(storyModel, { onnxFile: ATTENTIONS_GRAPH });
    plainModel = await weft.load(storyModel);
    prompt = model.tokenizer.encode(
      'Once upon a time, there was a little fox named Tom. Tom lived in a big forest with his mother. One day, Tom found a red ball near the river. He wanted to show it to his friend Lily.',
    );
  });
  afterAll(() => weft.dispose());

  it('full generates exactly the tokens of no router, on both graphs', async () => {
    for (const m of [model, plainModel]) {
      const plain = done(await collect(m.generate({ inputIds: prompt, maxTokens: 48 })));
      const full = done(await collect(m.generate({ inputIds: prompt, maxTokens: 48, router: 'full' })));
      expect(full.rows[0]!.ids).toEqual(plain.rows[0]!.ids);
    }
  });

  it.each(Object.entries(ATTENTION_ROUTERS))('%s generates and evaluates under the budget', async (name, options) => {
    records.length = 0;
    const request = { inputIds: prompt, maxTokens: 48, router: { name, options } };
    const last = done(await collect(model.generate(name === 'hybrid' ? { ...request, analyzers: ['attention-importance'] } : request)));
    expect(last.rows[0]!.ids.length).toBeGreaterThan(0);
    for (const r of records.slice(1)) expect(r.maskLength).toBeLessThanOrEqual(BUDGET + 1);
    expect(last.kvBytes).toBe(BUDGET * slotBytes(model)); // the prompt alone exceeds the budget
    const after: number[] = [];
    const evaluated = await model.evaluate({ inputIds: prompt, router: measured(createRouter(name, options), after) });
    expect(Number.isFinite(evaluated.perplexity)).toBe(true);
    expect(Math.max(...after)).toBeLessThanOrEqual(BUDGET);
  });

  it('hybrid + attention-importance keeps, after the prefill, the older tokens the newest query attends to most', async () => {
    const inner = createRouter('hybrid', { budget: BUDGET });
    /** Attention of the prompt's last query to every slot, summed over layers and query heads. */
    let newest: number[] = [];
    let kept: readonly number[] | undefined;
    const spy: AttentionRouter = {
      specificationVersion: 'v1',
      name: 'spy',
      observe(o) {
        if (o.step === 0) {
          newest = [];
          for (const name of o.layout.attentionNames) {
            const t = o.outputs[name]!;
            const [, heads, seq, total] = t.dims as [number, number, number, number];
            const data = tensorFloat32(t);
            for (let h = 0; h < heads; h++) for (let k = 0; k < total; k++) newest[k] = (newest[k] ?? 0) + data[(h * seq + seq - 1) * total + k]!;
          }
        }
        inner.observe(o);
      },
      select(c) {
        const s = inner.select(c);
        if (c.step === 0 && s?.kind === 'shared') kept = s.slots;
        return s;
      },
    };
    await collect(model.generate({ inputIds: prompt, maxTokens: 2, router: spy, analyzers: ['attention-importance'] }));
    const window = BUDGET / 2;
    const older = Array.from({ length: prompt.length - window }, (_, i) => i);
    const top = [...older].sort((a, b) => newest[b]! - newest[a]! || a - b).slice(0, BUDGET - window).sort((a, b) => a - b);
    expect(kept).toEqual([...top, ...Array.from({ length: window }, (_, i) => prompt.length - window + i)]);
    // Not the first tokens, which the prompt's column sums (every query sees them) would keep.
    expect(kept!.slice(0, BUDGET - window)).not.toEqual(older.slice(0, BUDGET - window));
  });

  it('heavy-hitter selects per head (different positions per kv head)', async () => {
    const seen: RoutingContext[] = [];
    const inner = createRouter('heavy-hitter', { budget: BUDGET });
    const spy: AttentionRouter = { ...measured(inner, []), select: (c) => (seen.push(c), inner.select(c)) };
    await collect(model.generate({ inputIds: prompt, maxTokens: 16, router: spy }));
    const positions = seen.at(-1)!.slotPositions;
    expect(positions).toHaveLength(model.layout.numKvHeads);
    expect(positions[0]).not.toEqual(positions[1]);
  });
});
