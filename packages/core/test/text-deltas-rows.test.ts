import { lastValueFrom, of, reduce, tap, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionsError, textDeltas, type GenerationEvent, type WeftModel } from '../src/index.js';
import { collect, done, runtime, storyModel } from './helpers.js';

describe('textDeltas(row)', () => {
  const weft = runtime();
  let model: WeftModel;
  beforeAll(async () => {
    model = await weft.load(storyModel);
  });
  afterAll(() => weft.dispose());

  it('refuses a row that is not a whole number from 0, at once', () => {
    for (const row of [-1, 1.5, Number.NaN, Infinity]) {
      const error = (() => {
        try {
          textDeltas(row);
        } catch (e) {
          return e;
        }
      })();
      expect(InvalidOptionsError.isInstance(error), String(row)).toBe(true);
      expect(error).toMatchObject({ option: 'row' });
    }
  });

  it("streams the second prompt's text", async () => {
    const request = { prompt: ['Once upon a time', 'The cat'], maxTokens: 12, ignoreEos: true };
    const text = await lastValueFrom(model.generate(request).pipe(textDeltas(1), reduce((all, t) => all + t, '')));
    expect(text).toBe(done(await collect(model.generate(request))).rows[1]!.text);
    expect(text.length).toBeGreaterThan(0);
  });

  it('fails the stream at its start event for a row the request does not have, and stops the generation there', async () => {
    const seen: GenerationEvent['type'][] = [];
    const generation = model.generate({ prompt: ['Once upon a time', 'The cat'], maxTokens: 12, ignoreEos: true });
    const error = await lastValueFrom(generation.pipe(tap((e) => seen.push(e.type)), textDeltas(2), toArray())).catch((e: unknown) => e);
    expect(InvalidOptionsError.isInstance(error)).toBe(true);
    expect((error as Error).message).toBe('textDeltas(2): the request has 2 prompts (rows 0 to 1), so there is no row 2.');
    expect(seen).toEqual(['start']);
  });

  it('checks the done event of a stream without a start event', async () => {
    const finished: GenerationEvent = {
      type: 'done',
      finishReason: 'length',
      usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2 },
      ttftMs: 1,
      msPerToken: 1,
      durationMs: 2,
      kvBytes: 0,
      rows: [{ row: 0, ids: [5], text: 'x', finishReason: 'length', usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2 } }],
    };
    expect(await lastValueFrom(of(finished).pipe(textDeltas(0), toArray()))).toEqual(['x']);
    const error = await lastValueFrom(of(finished).pipe(textDeltas(1), toArray())).catch((e: unknown) => e);
    expect((error as Error).message).toBe('textDeltas(1): the request has one prompt (row 0), so there is no row 1.');
  });
});
