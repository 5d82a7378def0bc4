import { afterAll, describe, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import { analysesOf, analyzerName, argmax, definePlugin, InvalidOptionsError, isAnalysisOf, type Analyzer, type AnalysisEvent } from '../src/index.js';
import { collect, fixture, runtime } from './helpers.js';

/** Per row, the argmax of the step's logits and its value: data with a shape of its own. */
const topOf = (): Analyzer<{ id: number; logit: number }[]> => ({
  name: 'top',
  observe: ({ logits }) => logits.map((row) => ({ id: argmax(row), logit: row[argmax(row)]! })),
});
/** Reports on even steps only (undefined: no event). */
const evenSteps: Analyzer<number> = { name: 'even-steps', observe: ({ step }) => (step % 2 === 0 ? step : undefined) };

const weft = runtime([
  definePlugin({
    name: 'lengths',
    version: '1.0.0',
    apiVersion: '^0.1.0',
    setup(ctx) {
      ctx.register('analyzer', { name: 'fed', create: () => ({ name: 'fed', observe: (o) => o.inputIds.map((ids) => ids.length) }) });
    },
  }),
]);
afterAll(() => weft.dispose());

describe('analysis events typed by their analyzer', () => {
  it('analysesOf keeps one analyzer’s events, in step order, with its data', async () => {
    const model = await weft.load(fixture('tiny'));
    const top = topOf();
    const request = { prompt: ['Once upon a time', 'The cat'], maxTokens: 4, analyzers: [top, evenSteps, 'fed'] } as const;
    const all = await collect(model.generate(request));
    const tops: AnalysisEvent<{ id: number; logit: number }[]>[] = await lastValueFrom(model.generate(request).pipe(analysesOf(top), toArray()));
    expect(tops.map((e) => e.step)).toEqual([0, 1, 2, 3]);
    expect(tops.every((e) => e.analyzer === 'top' && e.data.length === 2)).toBe(true);
    // Greedy decoding picks what the analyzer saw as the top id, row by row.
    const tokens = all.filter((e) => e.type === 'token');
    for (const t of tokens) if (t.type === 'token') expect(tops[t.index]!.data[t.row]!.id).toBe(t.id);
    const even = await lastValueFrom(model.generate(request).pipe(analysesOf(evenSteps), toArray()));
    expect(even.map((e) => e.data)).toEqual([0, 2]);
    // A registered analyzer by its name, typed by the caller; the prompt is fed at step 0, one id after.
    const fed = await lastValueFrom(model.generate(request).pipe(analysesOf<number[]>('fed'), toArray()));
    expect(fed.map((e) => e.data[0])).toEqual([all[0]!.type === 'start' ? Math.max(...all[0]!.promptIds.map((p) => p.length)) : -1, 1, 1, 1]);
  });

  it('isAnalysisOf narrows an event to one analyzer’s, by instance or by name', async () => {
    const model = await weft.load(fixture('tiny'));
    const top = topOf();
    let steps = 0;
    let evens = 0;
    let fed = 0;
    for (const event of await collect(model.generate({ prompt: 'Once upon a time', maxTokens: 3, analyzers: [top, evenSteps, 'fed'] }))) {
      if (isAnalysisOf(event, top)) steps += event.data[0]!.logit > -Infinity ? 1 : 0;
      else if (isAnalysisOf(event, evenSteps)) evens += 1;
      else if (isAnalysisOf<number[]>(event, 'fed')) fed += event.data.length;
    }
    expect([steps, evens, fed]).toEqual([3, 2, 3]);
  });

  it('a typed name (analyzerName) is the registered name: it selects the analyzer in a request and its events', async () => {
    const model = await weft.load(fixture('tiny'));
    const fed = analyzerName<number[]>('fed');
    expect(fed).toBe('fed');
    const events = await lastValueFrom(model.generate({ prompt: 'The cat', maxTokens: 3, analyzers: [{ name: fed }] }).pipe(analysesOf(fed), toArray()));
    expect(events.map((e) => [e.step, e.data[0]! > 0])).toEqual([
      [0, true],
      [1, true],
      [2, true],
    ]);
    expect(events.slice(1).map((e) => e.data[0])).toEqual([1, 1]);
  });

  it('analyzerName refuses what cannot be a registered name', () => {
    expect(() => analyzerName('')).toThrow(/a string that is not blank, of at most 214 characters \(got ""\)/);
    expect(() => analyzerName('   ')).toThrow(/got "   "/);
    expect(() => analyzerName('x'.repeat(215))).toThrow(/got a string of 215 characters/);
    expect(analyzerName('x'.repeat(214))).toHaveLength(214);
    expect(() => analyzerName(null as unknown as string)).toThrow(/\(got null\)/);
    expect(() => analyzerName(42 as unknown as string)).toThrow(InvalidOptionsError);
  });

  it('refuses a reference that is neither a name nor an analyzer with one', () => {
    expect(() => analysesOf({ observe: () => 1 } as unknown as Analyzer)).toThrow(InvalidOptionsError);
    expect(() => isAnalysisOf({ type: 'analysis', analyzer: 'x', step: 0, data: 1 }, null as unknown as string)).toThrow(/take an analyzer \(with a string name\) or its name/);
  });
});
