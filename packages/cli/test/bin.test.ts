import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ARGV_BYTE_LIMIT } from '../src/argv-limit.js';
import { storyModel } from './helpers.js';

/** Runs the built bin; `closeStderr` closes the read end of its stderr pipe at once. */
function runBin(args: readonly string[], options: { closeStderr?: boolean } = {}): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    if (options.closeStderr) child.stderr.destroy();
    else child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

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

  it('refuses a command line longer than the limit with exit 2 and one line, instead of crashing in onnxruntime', async () => {
    // 40 KB: onnxruntime-node 1.30 segfaults (exit 139, nothing printed) from about 28.9 KB.
    const result = await runBin(['generate', '--model', storyModel, '--prompt', 'x'.repeat(40_000), '--max-tokens', '1']);
    expect(result.signal).toBeNull();
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(new RegExp(`^weft: the command line is \\d+ bytes, over the limit of ${ARGV_BYTE_LIMIT} .*--prompt-file FILE.*\n$`));
  });

  it('keeps exit code 2 for an input error when stderr is a closed pipe', async () => {
    const result = await runBin(['generate', '--model', storyModel, '--threads', '1', '--prompt-ids', '99999'], { closeStderr: true });
    expect(result.code).toBe(2);
  });
});
