import { afterAll, describe, expect, it } from 'vitest';
import { take } from 'rxjs';
import { definePlugin, FullPrecisionKvStore, InvalidOptionsError, PluginError, type GenerationEvent, type Sampler, type WeftModel } from '../src/index.js';
import { collect, done, fixture, runtime } from './helpers.js';

const weft = runtime([
  definePlugin({
    name: 'test-extras',
    version: '1.0.0',
    apiVersion: '^0.1.0',
    setup(ctx) {
      ctx.register('logits-processor', {
        name: 'explode',
        create: () => ({ name: 'explode', process: () => { throw new Error('kaboom'); } }),
      });
      ctx.register('analyzer', {
        name: 'top-id',
        create: () => ({ name: 'top-id', observe: (o) => o.logits.map((l) => l.indexOf(Math.max(...l))) }),
      });
    },
  }),
]);
afterAll(() => weft.dispose());
const models = new Map<string, Promise<WeftModel>>();
const load = (name: string) => {
  if (!models.has(name)) models.set(name, weft.load(fixture(name)));
  return models.get(name)!;
};
const ids = async (name: string, request: Parameters<WeftModel['generate']>[0]) => done(await collect((await load(name)).generate(request))).rows.map((r) => r.ids);
const prompts = ['Once upon a time, there was a little fox named', 'Tom', 'The sun went down and the moon came up over the hill.'];

describe('generation loop', () => {
  it('gives the same greedy tokens with the KV cache, without past inputs, and without position_ids', async () => {
    const request = { prompt: prompts, maxTokens: 24 };
    const cached = await ids('tiny', request);
    expect(await ids('tiny-no-past', request)).toEqual(cached);
    expect(await ids('tiny-no-position-ids', request)).toEqual(cached);
    expect(new Set(cached[0]).size).toBeGreaterThan(5); // not a degenerate constant output
  });

  it('advances a left-padded batch with the same greedy tokens as each prompt alone', async () => {
    const batch = await ids('tiny', { prompt: prompts, maxTokens: 24 });
    for (const [i, prompt] of prompts.entries()) {
      expect((await ids('tiny', { prompt, maxTokens: 24 }))[0]).toEqual(batch[i]);
    }
  });

  it('reproduces sampled tokens with the same seed and varies them across seeds', async () => {
    const request = { prompt: prompts[0]!, maxTokens: 16, temperature: 1, topK: 50, topP: 0.95, seed: 7 };
    const a = await ids('tiny', request);
    expect(await ids('tiny', request)).toEqual(a);
    expect(await ids('tiny', { ...request, seed: 8 })).not.toEqual(a);
  });

  it('ends at a stop string matched across tokens and never emits it', async () => {
    const model = await load('tiny');
    const free = done(await collect(model.generate({ prompt: prompts[0]!, maxTokens: 30 }))).rows[0]!;
    const stop = free.text.slice(10, 14); // four characters that span token boundaries somewhere mid-text
    const events = await collect(model.generate({ prompt: prompts[0]!, maxTokens: 30, stop: [stop] }));
    const last = done(events);
    expect(last.finishReason).toBe('stop');
    expect(last.rows[0]!.text).toBe(free.text.slice(0, free.text.indexOf(stop)));
    const streamed = events.flatMap((e) => (e.type === 'token' ? [e.text] : [])).join('');
    expect(streamed).toBe(last.rows[0]!.text);
  });

  it('stops at any EOS id of a list and reports eos', async () => {
    const model = await load('tiny');
    const forced: Sampler = { name: 'force', sample: (_l, c) => (c.step < 3 ? 100 + c.step : 2) };
    const last = done(await collect(model.generate({ prompt: 'x', maxTokens: 10, sampler: forced })));
    expect(last.finishReason).toBe('eos');
    expect(last.rows[0]!.ids).toEqual([100, 101, 102]);
  });

  it('releases held-back text in a flush event when a row ends, so token and flush texts add up to the done text', async () => {
    const model = await load('tiny');
    const byteIds = (s: string) => [...new TextEncoder().encode(s)].map((b) => 6 + b); // byte tokens follow the 6 specials
    const cases = [
      // A possible stop string, cut off by maxTokens.
      { ids: byteIds('ab xy'), request: { maxTokens: 5, stop: ['xyz'] }, flushed: 'xy', reason: 'length' },
      // Half an emoji, then EOS: the unfinished bytes come out as U+FFFD at the end, as TextDecoder gives them.
      { ids: [...byteIds('ok 🙂').slice(0, 5), 2], request: { maxTokens: 10 }, flushed: '\uFFFD', reason: 'eos' },
    ] as const;
    for (const { ids, request, flushed, reason } of cases) {
      const sampler: Sampler = { name: 'force', sample: (_l, c) => ids[c.step]! };
      const events = await collect(model.generate({ prompt: 'x', sampler, ...request }));
      const last = done(events);
      expect(last.finishReason).toBe(reason);
      const flushes = events.filter((e) => e.type === 'flush');
      expect(flushes).toEqual([{ type: 'flush', row: 0, text: flushed }]);
      const at = events.indexOf(flushes[0]!);
      expect(at).toBeGreaterThan(events.findLastIndex((e) => e.type === 'token'));
      expect(at).toBeLessThan(events.indexOf(last));
      const joined = events.flatMap((e) => (e.type === 'token' || e.type === 'flush' ? [e.text] : [])).join('');
      expect(joined).toBe(last.rows[0]!.text);
      expect(await model.text({ prompt: 'x', sampler, ...request })).toBe(last.rows[0]!.text);
    }
  });

  it('samples near-zero temperatures as greedy instead of overflowing float32', async () => {
    const greedy = await ids('tiny', { prompt: prompts[0]!, maxTokens: 8 });
    for (const temperature of [1e-38, 1e-45]) expect(await ids('tiny', { prompt: prompts[0]!, maxTokens: 8, temperature, seed: 3 })).toEqual(greedy);
  });

  it('samples a NaN logit as never chosen and +Infinity logits as certain, as greedy decoding does', async () => {
    const set = (id: number, value: number) => ({ name: `set-${id}`, process: (l: Float32Array) => void (l[id] = value) });
    const sampled = { prompt: prompts[0]!, maxTokens: 8, temperature: 1, seed: 3 };
    for (const extra of [{}, { topK: 5 }, { topP: 0.9 }, { minP: 0.05 }]) {
      const masked = await ids('tiny', { ...sampled, ...extra, processors: [set(5, -Infinity)] });
      expect(await ids('tiny', { ...sampled, ...extra, processors: [set(5, Number.NaN)] })).toEqual(masked);
      expect(await ids('tiny', { ...sampled, ...extra, processors: [set(7, Infinity)] })).toEqual([new Array(8).fill(7)]);
    }
    // Two certain tokens share the draw: over a few seeds both appear, nothing else does.
    const drawn = new Set<number>();
    for (let seed = 0; seed < 6; seed++) {
      for (const id of (await ids('tiny', { ...sampled, seed, processors: [set(7, Infinity), set(9, Infinity)] }))[0]!) drawn.add(id);
    }
    expect([...drawn].sort()).toEqual([7, 9]);
  });

  it('fails clearly when no token is left to pick, and blames a sampler that returns no token id', async () => {
    const model = await load('tiny');
    const maskAll = { name: 'mask-all', process: (l: Float32Array) => void l.fill(-Infinity) };
    for (const temperature of [0, 0.8]) {
      await expect(collect(model.generate({ prompt: 'x', temperature, processors: [maskAll] }))).rejects.toThrow(
        /No token is left to pick for row 0 at step 0: every logit is -Infinity or NaN after .*processors "mask-all"/,
      );
    }
    const nan = { name: 'nan', process: (l: Float32Array) => void l.fill(Number.NaN) };
    await expect(collect(model.generate({ prompt: 'x', temperature: 1, processors: [nan] }))).rejects.toThrow(/No token is left to pick/);
    const error = await collect(model.generate({ prompt: 'x', sampler: { name: 'wild', sample: () => 5000 } })).catch((e: unknown) => e);
    expect(PluginError.isInstance(error)).toBe(true);
    expect((error as PluginError).message).toMatch(/Plugin "request" failed in sampler "wild": returned 5000, not a token id in \[0, 1024\)/);
  });

  it('refuses temperature, topK, topP and minP next to a request sampler, which would ignore them', async () => {
    const model = await load('tiny');
    const forced: Sampler = { name: 'force', sample: () => 100 };
    for (const [option, value] of [['temperature', 0.7], ['topK', 5], ['topP', 0.9], ['minP', 0.1], ['temperature', 0]] as const) {
      const error = await collect(model.generate({ prompt: 'x', maxTokens: 2, sampler: forced, [option]: value })).catch((e: unknown) => e);
      expect(InvalidOptionsError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({ option });
      expect((error as Error).message).toBe(
        `${option} does not apply with a sampler: the request's sampler replaces core's temperature, topK, topP and minP. Leave ${option} out, or pass what the sampler needs in its options.`,
      );
    }
    // A null sampler is no sampler: the error says what a sampler must be, not that temperature is refused.
    const nullSampler = await collect(model.generate({ prompt: 'x', sampler: null as never, temperature: 0.7 })).catch((e: unknown) => e);
    expect((nullSampler as Error).message).not.toMatch(/does not apply with a sampler/);
    expect((nullSampler as Error).message).toMatch(/sampler/);
    // The rest of the request still applies with a sampler: repetitionPenalty and seed are fine.
    const last = done(await collect(model.generate({ prompt: 'x', maxTokens: 2, sampler: forced, repetitionPenalty: 1.2, seed: 3, ignoreEos: true })));
    expect(last.rows[0]!.ids).toEqual([100, 100]);
  });

  it('takes typed arrays of ids like plain lists', async () => {
    const plain = [1, 100, 200, 300];
    const expected = await ids('tiny', { inputIds: plain, maxTokens: 6 });
    expect(await ids('tiny', { inputIds: Int32Array.from(plain) as unknown as number[], maxTokens: 6 })).toEqual(expected);
    expect(await ids('tiny', { inputIds: [Uint16Array.from(plain), plain] as unknown as number[][], maxTokens: 6 })).toEqual([expected[0], expected[0]]);
  });

  it('generates through EOS with ignoreEos, treating the EOS id as an ordinary token', async () => {
    const model = await load('tiny');
    const forced: Sampler = { name: 'force', sample: (_l, c) => (c.step === 1 ? 2 : 100 + c.step) };
    const last = done(await collect(model.generate({ prompt: 'x', maxTokens: 4, sampler: forced, ignoreEos: true })));
    expect(last.finishReason).toBe('length');
    expect(last.rows[0]!.ids).toEqual([100, 2, 102, 103]);
    await expect(collect(model.generate({ prompt: 'x', ignoreEos: 'yes' as unknown as boolean }))).rejects.toThrow(/ignoreEos must be true or false/);
  });

  it('never emits a broken UTF-8 character while an emoji arrives byte by byte', async () => {
    const model = await load('tiny');
    const bytes = [...new TextEncoder().encode('🙂é')].map((b) => 6 + b); // byte tokens follow the 6 specials
    const sampler: Sampler = { name: 'bytes', sample: (_l, c) => bytes[c.step] ?? 2 };
    const events = await collect(model.generate({ prompt: 'x', maxTokens: 10, sampler }));
    const texts = events.flatMap((e) => (e.type === 'token' ? [e.text] : []));
    expect(texts).toEqual(['', '', '', '🙂', '', 'é']);
  });

  it('hands the start event copies of the prompt ids: a subscriber cannot change what the run feeds', async () => {
    const model = await load('tiny');
    const request = { prompt: ['Once upon a time', 'Tom'], maxTokens: 4, ignoreEos: true };
    const expected = done(await collect(model.generate(request))).rows.map((r) => r.ids);
    const events: GenerationEvent[] = [];
    await new Promise<void>((resolve, reject) => {
      model.generate(request).subscribe({
        next: (e) => {
          events.push(e);
          if (e.type !== 'start') return;
          // What a caller dropping the BOS for display might do in plain JavaScript.
          const ids = e.promptIds as number[][];
          ids[0]!.shift();
          ids[1]!.length = 0;
          ids[0] = [];
        },
        error: reject,
        complete: resolve,
      });
    });
    expect(done(events).rows.map((r) => r.ids)).toEqual(expected);
    expect(done(events).rows.map((r) => r.usage.promptTokens)).toEqual(done(await collect(model.generate(request))).rows.map((r) => r.usage.promptTokens));
  });

  it('renders chat messages with the template and adds BOS once', async () => {
    const model = await load('tiny');
    const events = await collect(model.generate({ messages: [{ role: 'user', content: 'Tell me a story.' }], maxTokens: 2 }));
    const start = events[0]!;
    expect(start.type).toBe('start');
    const prompt = start.type === 'start' ? start.promptIds[0]! : [];
    expect(prompt.slice(0, 2)).toEqual([1, 4]);
    expect(prompt.at(-2)).toBe(5);
    expect(model.tokenizer.decode(prompt, { skipSpecialTokens: false })).toBe('<|bos|><|user|>\nTell me a story.\n<|assistant|>\n');
  });

  it('emits metrics per step, analysis per step, and logprobs of the chosen tokens', async () => {
    const model = await load('tiny');
    const events = await collect(model.generate({ prompt: prompts, maxTokens: 5, analyzers: ['top-id'] }));
    const metrics = events.filter((e) => e.type === 'metrics');
    const analysis = events.filter((e) => e.type === 'analysis');
    expect(metrics).toHaveLength(5);
    const start = events[0]!;
    const longest = start.type === 'start' ? Math.max(...start.promptIds.map((p) => p.length)) : -1;
    expect(metrics[0]).toMatchObject({ step: 0, inputTokens: longest });
    expect(metrics[1]).toMatchObject({ step: 1, inputTokens: 1 });
    // Step 0 says how long setup took before the first forward pass; the parts of step 0 fit in
    // the time to the first token.
    const first = metrics[0]!;
    if (first.type !== 'metrics') throw new Error('expected a metrics event');
    expect(first.setupMs).toBeGreaterThan(0);
    expect(first.setupMs! + first.forwardMs + first.samplingMs).toBeLessThanOrEqual(done(events).ttftMs);
    expect(metrics.slice(1).every((m) => m.type === 'metrics' && m.setupMs === undefined)).toBe(true);
    expect(analysis.map((a) => a.type === 'analysis' && a.step)).toEqual([0, 1, 2, 3, 4]);
    // Greedy picks the analyzer's argmax for every row at every step.
    const tokens = events.filter((e): e is Extract<GenerationEvent, { type: 'token' }> => e.type === 'token');
    for (const t of tokens) {
      const a = analysis[t.index]!;
      expect(a.type === 'analysis' && (a.data as number[])[t.row]).toBe(t.id);
      expect(t.logprob).toBeLessThan(0);
    }
    expect(done(events).usage.completionTokens).toBe(15);
    // logprob is an own enumerable value that copies keep: spread, structuredClone and JSON.
    const t = tokens[0]!;
    expect(Object.keys(t)).toEqual(['type', 'row', 'index', 'id', 'text', 'logprob']);
    for (const copy of [{ ...t }, structuredClone(t), JSON.parse(JSON.stringify(t)) as typeof t]) {
      expect(copy).toEqual({ type: 'token', row: t.row, index: t.index, id: t.id, text: t.text, logprob: t.logprob });
    }
  });

  it('gives each token the log-probability the raw logits assign it', async () => {
    const model = await load('tiny');
    const rows: Float32Array[] = [];
    const events = await collect(
      model.generate({ prompt: 'x', maxTokens: 4, temperature: 0.9, seed: 5, analyzers: [{ name: 'keep', observe: (o) => void rows.push(o.logits[0]!.slice()) }] }),
    );
    const tokens = events.filter((e) => e.type === 'token');
    expect(tokens).toHaveLength(4);
    for (const t of tokens) {
      if (t.type !== 'token') continue;
      const raw = rows[t.index]!;
      const max = Math.max(...raw);
      const lse = max + Math.log(raw.reduce((s, v) => s + Math.exp(v - max), 0));
      expect(t.logprob).toBeCloseTo(raw[t.id]! - lse, 5);
    }
  });

  it('stream() and text() yield the same text as the events', async () => {
    const model = await load('tiny');
    const request = { prompt: prompts[0]!, maxTokens: 20 };
    const expected = done(await collect(model.generate(request))).rows[0]!.text;
    let streamed = '';
    for await (const piece of model.stream(request)) streamed += piece;
    expect(streamed).toBe(expected);
    expect(await model.text(request)).toBe(expected);
  });

  it('aborts within one step and reports abort', async () => {
    const model = await load('tiny');
    const controller = new AbortController();
    const events: GenerationEvent[] = [];
    await new Promise<void>((resolve, reject) =>
      model.generate({ prompt: 'x', maxTokens: 200, signal: controller.signal }).subscribe({
        next: (e) => {
          events.push(e);
          if (e.type === 'token' && e.index === 2) controller.abort();
        },
        error: reject,
        complete: resolve,
      }),
    );
    expect(done(events).finishReason).toBe('abort');
    expect(done(events).usage.completionTokens).toBe(3);
  });

  it('emits no token of a forward pass during which the request was aborted', async () => {
    const controller = new AbortController();
    // Aborts while step 2 is on its way to the forward pass (after the step's own abort check).
    const aborter = definePlugin({
      name: 'abort-at-step-2',
      version: '1.0.0',
      apiVersion: '^0.1.0',
      setup: (ctx) => ctx.addHooks({ beforeForward: ({ step }) => void (step === 2 && controller.abort()) }),
    });
    const aborting = runtime([aborter]);
    const model = await aborting.load(fixture('tiny'));
    const events = await collect(model.generate({ prompt: 'x', maxTokens: 50, signal: controller.signal }));
    expect(events.filter((e) => e.type === 'token').map((e) => (e as { index: number }).index)).toEqual([0, 1]);
    expect(done(events)).toMatchObject({ finishReason: 'abort', usage: { completionTokens: 2 } });
    await aborting.dispose();
  });

  it('reports the reason of the row that finished last as a batch\'s finish reason', async () => {
    const model = await load('tiny');
    // Row 0 writes EOS at step 1, row 1 never does and ends by length, row 2 ends by EOS at step 3.
    const eosAt = [1, Infinity, 3];
    const sampler: Sampler = { name: 'force', sample: (_l, c) => (c.step === eosAt[c.row] ? 2 : 100 + c.step) };
    const last = done(await collect(model.generate({ prompt: ['a', 'b', 'c'], maxTokens: 5, sampler })));
    expect(last.rows.map((r) => r.finishReason)).toEqual(['eos', 'length', 'eos']);
    expect(last.finishReason).toBe('length');
    const early = done(await collect(model.generate({ prompt: ['a', 'b', 'c'], maxTokens: 3, sampler })));
    // Rows 1 and 2 both end at the last step (length): the lower row's reason.
    expect(early.rows.map((r) => r.finishReason)).toEqual(['eos', 'length', 'length']);
    expect(early.finishReason).toBe('length');
    const eosLast: Sampler = { name: 'force', sample: (_l, c) => (c.step === [0, 2][c.row] ? 2 : 100 + c.step) };
    const byEos = done(await collect(model.generate({ prompt: ['a', 'b'], maxTokens: 5, sampler: eosLast })));
    expect(byEos.rows.map((r) => r.finishReason)).toEqual(['eos', 'eos']);
    expect(byEos.finishReason).toBe('eos');
    const mixed: Sampler = { name: 'force', sample: (_l, c) => (c.row === 1 && c.step === 1 ? 2 : 100 + c.step) };
    const lengthFirst = done(await collect(model.generate({ prompt: ['a', 'b'], maxTokens: 2, sampler: mixed })));
    // Row 0 ends by length at step 1, row 1 by EOS at the same step: row 0's reason.
    expect(lengthFirst.rows.map((r) => r.finishReason)).toEqual(['length', 'eos']);
    expect(lengthFirst.finishReason).toBe('length');
  });

  it('fails a second run on a store instance that a first run is still using, and reuses it afterwards', async () => {
    const model = await load('tiny');
    const kv = new FullPrecisionKvStore();
    const generation = model.generate({ prompt: prompts[0]!, maxTokens: 8, kv });
    const [first, second] = await Promise.allSettled([collect(generation), collect(generation)]);
    expect(first.status).toBe('fulfilled');
    const error = (second as PromiseRejectedResult).reason as InvalidOptionsError;
    expect(InvalidOptionsError.isInstance(error)).toBe(true);
    expect(error.option).toBe('kv');
    expect(error.message).toMatch(/already in use by another run/);
    const expected = await ids('tiny', { prompt: prompts[0]!, maxTokens: 8 });
    expect(done((first as PromiseFulfilledResult<GenerationEvent[]>).value).rows[0]!.ids).toEqual(expected[0]);
    // Once the first run ended, the instance is free again.
    expect(await ids('tiny', { prompt: prompts[0]!, maxTokens: 8, kv })).toEqual(expected);
  });

  it('fails only the stream whose plugin stage throws, naming the plugin', async () => {
    const model = await load('tiny');
    const [bad, good] = await Promise.allSettled([
      collect(model.generate({ prompt: 'x', maxTokens: 5, processors: ['explode'] })),
      collect(model.generate({ prompt: 'x', maxTokens: 5 })),
    ]);
    expect(bad.status).toBe('rejected');
    const error = (bad as PromiseRejectedResult).reason as PluginError;
    expect(PluginError.isInstance(error)).toBe(true);
    expect(error.plugin).toBe('test-extras');
    expect(error.message).toMatch(/logits processor "explode".*kaboom/);
    expect(good.status).toBe('fulfilled');
  });

  it('measures the same perplexity with prefill chunks, step by step, and without past inputs', async () => {
    const model = await load('tiny');
    const inputIds = model.tokenizer.encode('Once upon a time, there was a little fox named Tom. Tom lived in a big forest.');
    const stepwise = await model.evaluate({ inputIds });
    const chunked = await model.evaluate({ inputIds, prefillTokens: 10 });
    const recompute = await (await load('tiny-no-past')).evaluate({ inputIds });
    expect(stepwise.tokens).toBe(inputIds.length - 1);
    expect(Math.abs(chunked.perplexity / stepwise.perplexity - 1)).toBeLessThan(1e-5);
    expect(Math.abs(recompute.perplexity / stepwise.perplexity - 1)).toBeLessThan(1e-5);
    // 2 layers × (key + value) × 2 kv heads × 8 dims × 4 bytes per cached position
    expect(stepwise.kvBytes).toBe((inputIds.length - 1) * 2 * 2 * 2 * 8 * 4);
    expect(stepwise.kvBytesFp32).toBe(stepwise.kvBytes);
  });

  it('runs no forward pass for a subscriber that stops at the start event', async () => {
    let forwards = 0;
    const counting = runtime([
      definePlugin({ name: 'count-forwards', version: '1.0.0', apiVersion: '^0.1.0', setup: (ctx) => ctx.addHooks({ beforeForward: () => void forwards++ }) }),
    ]);
    const model = await counting.load(fixture('tiny'));
    const seen = await collect(model.generate({ prompt: 'x', maxTokens: 5 }).pipe(take(1)));
    expect(seen.map((e) => e.type)).toEqual(['start']);
    expect(forwards).toBe(0);
    await collect(model.generate({ prompt: 'x', maxTokens: 2 }));
    expect(forwards).toBe(2);
    await counting.dispose();
  });

  it('stops on unsubscribe and leaves no run going', async () => {
    const model = await load('tiny');
    const seen = await collect(model.generate({ prompt: 'x', maxTokens: 100 }).pipe(take(3)));
    expect(seen.map((e) => e.type)).toEqual(['start', 'token', 'metrics']);
  });
});
