import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { storyModel } from './helpers.js';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const built = existsSync(bin);
if (!built) console.warn(`[weft cli tests] ${bin} is not built (run pnpm run build): the subprocess test is skipped.`);

describe.skipIf(!built)('dist/bin.js as a real process', () => {
  it('streams JSON lines from generate and exits 0', async () => {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [bin, 'generate', '--model', storyModel, '--threads', '1', '--prompt', 'Once upon a time', '--max-tokens', '8', '--json'],
      { timeout: 30_000 },
    );
    expect(stderr).toBe('');
    const records = stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; id?: number; ids?: number[] });
    const done = records.at(-1)!;
    expect(done.type).toBe('done');
    expect(records.filter((r) => r.type === 'token').map((r) => r.id)).toEqual(done.ids);
  });
});
