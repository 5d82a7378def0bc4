import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, generateJson, storyModel } from './helpers.js';

/** Options the parser used to drop or a store used to ignore: each is now a one-line usage error. */
describe('--kv and --router options nobody reads', () => {
  it.each([
    [['--kv', 'fp32:foo=1'], /^weft: --kv: The kv store "fp32" takes no options \(got options "foo"\); .* \(@weft\/core\)\n/],
    [['--kv', 'int4:__proto__=1'], /^weft: --kv: Unknown option "__proto__" for the kv store "int4"\. .* \(@weft\/plugin-kv\)\n/],
    [['--router', 'window:__proto__=3'], /^weft: --router: Router "window": unknown option "__proto__".* \(@weft\/plugin-attention\)\n/],
    [['--router', 'heavy-hitter:recent=0,heavy=0'], /^weft: --router: Router "heavy-hitter": recent \(0\) \+ heavy \(0\) make a budget of 0; keep at least 1 token/],
  ])('%j exits 2 with one line', async (flags, message) => {
    const result = await generateJson(storyModel, '--prompt', 'Tom', '--max-tokens', '2', ...flags);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^weft: [^\n]+\n$/);
    expect(result.stderr).toMatch(message);
  });

  it('still accepts fp32 with no options', async () => {
    const result = await generateJson(storyModel, '--prompt', 'Tom', '--max-tokens', '2', '--kv', 'fp32');
    expect(result.code).toBe(0);
  });
});

describe('weft eval with options a store rejects', () => {
  it('starts the line with the flag too', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-cli-eval-opts-'));
    try {
      await writeFile(join(dir, 'text.txt'), 'Once upon a time, there was a girl.');
      const result = await cli(['eval', '--model', storyModel, '--text-file', join(dir, 'text.txt'), '--kv', 'int4:group=0']);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^weft: --kv: Bad value 0 for "group" of the kv store "int4": .* \(@weft\/plugin-kv\)\n$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
