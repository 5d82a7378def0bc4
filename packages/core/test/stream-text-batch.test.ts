import { rmSync } from 'node:fs';
import { lastValueFrom, reduce } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { textDeltas, type GenerationEvent, type Sampler, type WeftModel } from '../src/index.js';
import { tinyFolderWith } from './family-model-folder.js';
import { collect, done, runtime } from './helpers.js';
import { BYTE_TO_CHAR, llama3 } from './tokenizer-family-fixtures.js';

/**
 * The tiny ONNX fixture with the Llama 3 style tokenizer (byte-level BPE, spaces cleaned up,
 * <|eot_id|> among its EOS ids), every token forced by a sampler, so the loop streams chosen ids.
 */
describe('streamed text through the generation loop (tiny model, Llama 3 tokenizer, forced tokens)', () => {
  const weft = runtime();
  const family = llama3();
  let dir: string;
  let model: WeftModel;
  beforeAll(async () => {
    dir = tinyFolderWith(family, 'weft-stream-text-');
    model = await weft.load(dir);
  });
  afterAll(async () => {
    await weft.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const encode = (text: string): number[] => model.tokenizer.encode(text, { addSpecialTokens: false });
  /** A sampler that writes `rows[row]` one id per step (then the first EOS id). */
  const forcing = (rows: readonly (readonly number[])[]): Sampler => ({
    name: 'force',
    sample: (_logits, c) => rows[c.row]![c.step] ?? model.generationConfig.eosTokenIds[0]!,
  });
  /** Each row's token and flush texts joined, in event order. */
  const streamedText = (events: readonly GenerationEvent[], row: number): string =>
    events.flatMap((e) => ((e.type === 'token' || e.type === 'flush') && e.row === row ? [e.text] : [])).join('');

  it('rows stopping at different steps, each in its own way: every row’s streamed text is its done text, cut at its stop', async () => {
    const pythonTag = model.tokenizer.tokenToId('<|python_tag|>')!; // special, not an EOS id
    const rows = [
      encode('Hello world again and again'), // "world" across tokens: stops early
      [...encode('Say é'), pythonTag, ...encode(' hidden')], // a special token named as a stop
      encode('Almost at the very last word, the end '), // "end " completes only when maxTokens ends the row (clean-up held " ")
      encode('Plain text 猫 and 🦊 up to the limit of the row, and on!'), // no stop
    ];
    // Rows 2 and 3 run to maxTokens; rows 0 and 1 stop before.
    const maxTokens = rows[2]!.length;
    rows[3] = rows[3]!.slice(0, maxTokens);
    expect(rows[3]).toHaveLength(maxTokens);
    expect(Math.max(rows[0]!.length, rows[1]!.length)).toBeLessThan(maxTokens);
    const stop = ['world', '<|python_tag|>', 'end '];
    const request = { prompt: ['a', 'b', 'c', 'd'], maxTokens, stop, sampler: forcing(rows) };
    const events = await collect(model.generate(request));
    const result = done(events);
    const decode = (ids: readonly number[]) => model.tokenizer.decode(ids);
    expect(result.rows.map((r) => r.finishReason)).toEqual(['stop', 'stop', 'stop', 'length']);
    expect(result.rows.map((r) => r.text)).toEqual(['Hello ', 'Say é', 'Almost at the very last word, the ', decode(rows[3]!)]);
    // The ids that completed each stop are the last ids; the special token is among them.
    expect(result.rows[0]!.ids).toEqual(rows[0]!.slice(0, result.rows[0]!.ids.length));
    expect(decode(result.rows[0]!.ids).endsWith('world')).toBe(true);
    expect(result.rows[1]!.ids).toEqual([...encode('Say é'), pythonTag]);
    expect(result.rows[2]!.ids).toEqual(rows[2]);
    expect(result.rows[3]!.ids).toEqual(rows[3]);
    // Rows 2 and 3 finish last, together: the run's reason is row 2's.
    expect(result.finishReason).toBe('stop');
    for (let r = 0; r < rows.length; r++) {
      expect(streamedText(events, r), `row ${r}`).toBe(result.rows[r]!.text);
      // Nothing of a row comes after its flush.
      const mine = events.filter((e) => (e.type === 'token' || e.type === 'flush') && e.row === r);
      const flushAt = mine.findIndex((e) => e.type === 'flush');
      if (flushAt >= 0) expect(flushAt, `row ${r}`).toBe(mine.length - 1);
    }
    // Row 2 held back "end" (a stop's start) and " " (clean-up): the stop they make is dropped, no flush.
    expect(events.filter((e) => e.type === 'flush' && e.row === 2)).toEqual([]);
    // text(), stream() and textDeltas() give the rows' done texts.
    expect(await model.text(request)).toBe(result.rows[0]!.text);
    let streamed = '';
    for await (const piece of model.stream(request)) streamed += piece;
    expect(streamed).toBe(result.rows[0]!.text);
    for (const r of [1, 2, 3]) {
      const joined = await lastValueFrom(model.generate(request).pipe(textDeltas(r), reduce((all, t) => all + t, '')), { defaultValue: '' });
      expect(joined, `row ${r}`).toBe(result.rows[r]!.text);
    }
  });

  it('an abort while a character is half written releases its bytes as U+FFFD, as decoding the ids gives', async () => {
    const byteId = (b: number) => model.tokenizer.tokenToId(BYTE_TO_CHAR[b]!)!;
    const fox = [...new TextEncoder().encode('🦊')].map(byteId);
    const ids = [...encode('A fox'), ...fox];
    const controller = new AbortController();
    const half = ids.length - 2; // two of the fox's four bytes are never written
    const sampler: Sampler = {
      name: 'force-then-abort',
      sample: (_l, c) => {
        if (c.step === half - 1) controller.abort();
        return ids[c.step]!;
      },
    };
    const events = await collect(model.generate({ prompt: 'x', maxTokens: 20, sampler, signal: controller.signal }));
    const result = done(events);
    expect(result.finishReason).toBe('abort');
    const row = result.rows[0]!;
    expect(row.ids).toEqual(ids.slice(0, half));
    expect(row.text).toBe(`${model.tokenizer.decode(encode('A fox'))}\uFFFD`);
    expect(row.text).toBe(model.tokenizer.decode(row.ids));
    expect(events.filter((e) => e.type === 'flush')).toEqual([{ type: 'flush', row: 0, text: '\uFFFD' }]);
    // No token event showed half of the fox.
    expect(events.some((e) => e.type === 'token' && e.text.includes('\uFFFD'))).toBe(false);
    expect(streamedText(events, 0)).toBe(row.text);
  });
});
