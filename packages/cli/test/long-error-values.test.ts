/**
 * Error lines that quote a very long value back (an argv-fuzz finding: a 16 KB unknown command gave
 * a 16 KB line, a 16 KB `--model` path a 33 KB one, as core's message quotes the path twice). The
 * line keeps each long run's start and end around the number of characters left out.
 */
import { describe, expect, it } from 'vitest';
import { MAX_ERROR_WORD, shortenLongWords } from '../src/errors.js';
import { cli } from './helpers.js';

describe('error lines quoting long values', () => {
  it('shorten an unknown command of 16 KB to one readable line', async () => {
    const name = `a${'x'.repeat(16_000)}z`;
    const result = await cli([name]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^weft: unknown command "axxx+…\(15825 characters\)…x+z"; commands: generate, chat, eval, bench, demo, info \(see weft --help\)\n$/);
    expect(result.stderr.length).toBeLessThan(400);
  });

  it('shorten a long --model path, which the load error quotes', async () => {
    const result = await cli(['eval', '--text-file', '-', '--model', `/nonexistent/${'m'.repeat(12_000)}`], { stdin: 'Once upon a time, there was a fox.' });
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')).toHaveLength(2);
    expect(result.stderr).toMatch(/^weft: .*\/nonexistent\/m+…\(\d+ characters\)…m+/);
    expect(result.stderr.length).toBeLessThan(1000);
  });

  it('leave words up to the limit alone, and never split a surrogate pair', () => {
    const word = 'w'.repeat(MAX_ERROR_WORD);
    expect(shortenLongWords(`a ${word} b`)).toBe(`a ${word} b`);
    const emoji = '😀'.repeat(150); // 300 UTF-16 units
    const shortened = shortenLongWords(`x ${emoji} y`);
    expect(shortened).toMatch(/^x (😀)+…\(\d+ characters\)…(😀)+ y$/);
    expect(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(shortened)).toBe(false);
  });
});
