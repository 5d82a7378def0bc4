import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endHeldLine } from '../src/output/held-line.js';
import { openLine } from '../src/output/open-line.js';
import { progressLine } from '../src/output/progress-line.js';
import { cli, storyModel } from './helpers.js';

const ERASE = '\r\x1b[K';

describe('progressLine', () => {
  const capture = (isTTY: boolean | undefined) => {
    const chunks: string[] = [];
    return { chunks, stderr: { ...(isTTY === undefined ? {} : { isTTY }), write: (chunk: string) => chunks.push(chunk) } };
  };

  it('draws nothing off a terminal', () => {
    for (const isTTY of [false, undefined]) {
      const { chunks, stderr } = capture(isTTY);
      const line = progressLine(stderr);
      line.update({ done: 1, total: 1, tokens: 10, nll: 5 });
      line.clear();
      expect(chunks).toEqual([]);
    }
  });

  it('redraws in place at most every 250 ms, always for the last document, and erases itself', () => {
    const { chunks, stderr } = capture(true);
    let now = 0;
    const line = progressLine(stderr, () => now);
    line.update({ done: 1, total: 4, tokens: 0, nll: 0 }); // the first is drawn
    now = 100;
    line.update({ done: 2, total: 4, tokens: 1000, nll: 500 }); // too soon
    now = 300;
    line.update({ done: 3, total: 4, tokens: 2000, nll: 1000 });
    now = 310;
    line.update({ done: 4, total: 4, tokens: 3000, nll: 1500 }); // the last, however soon
    line.clear();
    line.clear(); // once
    expect(chunks).toEqual([
      `${ERASE}weft: eval: 1/4 documents, 0 tokens`,
      `${ERASE}weft: eval: 3/4 documents, 2,000 tokens, perplexity so far ${Math.exp(0.5).toFixed(4)}`,
      `${ERASE}weft: eval: 4/4 documents, 3,000 tokens, perplexity so far ${Math.exp(0.5).toFixed(4)}`,
      ERASE,
    ]);
  });

  it('is cut to the terminal width less one, so it never wraps, and is not drawn on a very narrow one', () => {
    const { chunks, stderr } = capture(true);
    const line = progressLine({ ...stderr, columns: 40 });
    line.update({ done: 12345, total: 50000, tokens: 12_345_678, nll: 1e6 });
    expect(chunks).toHaveLength(1);
    const drawn = chunks[0]!.slice(ERASE.length);
    expect(drawn).toBe('weft: eval: 12345/50000 documents, 12,…');
    expect(drawn.length).toBe(39);
    // A pty with no size set reports 0 columns: drawn as on 80.
    const sizeless = capture(true);
    progressLine({ ...sizeless.stderr, columns: 0 }).update({ done: 1, total: 1, tokens: 1, nll: 1 });
    expect(sizeless.chunks).toHaveLength(1);
    const narrow = capture(true);
    progressLine({ ...narrow.stderr, columns: 10 }).update({ done: 1, total: 1, tokens: 1, nll: 1 });
    expect(narrow.chunks).toEqual([]);
  });

  it('is the held line while drawn: what else comes to the terminal erases it first', () => {
    const { chunks, stderr } = capture(true);
    const line = progressLine(stderr);
    line.update({ done: 1, total: 2, tokens: 10, nll: 5 });
    endHeldLine(); // as the process guards do before writing a plugin's output or an error
    expect(chunks.at(-1)).toBe(ERASE);
    line.clear(); // already erased: nothing more
    expect(chunks).toHaveLength(2);
  });

  it("makes streamed text's open line the held line on a terminal, ended by a newline", () => {
    const written: string[] = [];
    const open = openLine({ isTTY: true, write: (c: string) => written.push(c) });
    open.wrote('Once upon');
    endHeldLine();
    expect(written).toEqual(['\n']);
    open.endOnTerminal(); // ended already
    expect(written).toEqual(['\n']);
    const piped: string[] = [];
    openLine({ isTTY: false, write: (c: string) => piped.push(c) }).wrote('Once upon');
    endHeldLine();
    expect(piped).toEqual([]);
  });

  it('erases nothing when it drew nothing', () => {
    const { chunks, stderr } = capture(true);
    progressLine(stderr).clear();
    expect(chunks).toEqual([]);
  });
});

describe('weft eval progress', () => {
  let dir = '';
  let file = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-eval-progress-'));
    file = join(dir, 'stories.txt');
    const stories = readFileSync(join(storyModel, 'data/heldout.txt'), 'utf8').split(/\n\s*\n/).slice(0, 3);
    await writeFile(file, `${stories.join('\n\n')}\n`);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('shows documents done and the perplexity so far on a terminal, ending at the reported figures, then erases the line', async () => {
    const result = await cli(['eval', '--model', storyModel, '--threads', '1', '--text-file', file, '--json'], { stderrTty: true });
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { perplexity: number; tokens: number; documents: number; skippedDocuments: number };
    expect(report).toMatchObject({ documents: 3, skippedDocuments: 0 });
    const draws = result.stderr.split(ERASE).filter((d) => d !== '');
    expect(draws.at(-1)).toBe(`weft: eval: 3/3 documents, ${report.tokens.toLocaleString('en-US')} tokens, perplexity so far ${report.perplexity.toFixed(4)}`);
    expect(draws[0]).toMatch(/^weft: eval: 1\/3 documents, [\d,]+ tokens, perplexity so far \d+\.\d{4}$/);
    expect(result.stderr.endsWith(ERASE)).toBe(true); // the stats or the next prompt start on a clean line
  });

  it('shows the windows of a document longer than the context as they are scored', async () => {
    // One document of ~2,500 tokens: three windows of the 1,024-token context.
    const long = join(dir, 'long.txt');
    const stories = readFileSync(join(storyModel, 'data/long.txt'), 'utf8').split(/\n\s*\n/).slice(0, 4);
    await writeFile(long, `${stories.map((story) => story.replace(/\s*\n\s*/g, ' ')).join(' ')}\n`);
    const result = await cli(['eval', '--model', storyModel, '--threads', '1', '--text-file', long, '--json'], { stderrTty: true });
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { windows: number; documents: number };
    expect(report.documents).toBe(1);
    expect(report.windows).toBeGreaterThanOrEqual(3);
    const draws = result.stderr.split(ERASE).filter((d) => d !== '');
    // Before: nothing until the whole document was scored.
    // (Cut to the 80 columns of a terminal that does not say its width.)
    expect(draws[0]).toMatch(new RegExp(`^weft: eval: 0/1 documents \\(document 1: window 1/${report.windows}\\), 1,023 tokens, perplexity`));
    expect(draws.at(-1)).toMatch(/^weft: eval: 1\/1 documents, /);
  });

  it('writes nothing to stderr when it is not a terminal', async () => {
    const result = await cli(['eval', '--model', storyModel, '--threads', '1', '--text-file', file, '--json']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
  });
});
