import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runCli, type CliIo } from '../src/index.js';

export const stories260k = fileURLToPath(new URL('../../../../shared/models/stories260k', import.meta.url));
export const hasStories260k = existsSync(stories260k);
if (!hasStories260k) console.warn(`[weft cli tests] ${stories260k} is absent: tests that run a model are skipped.`);

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout split into parsed JSON lines. */
  json(): Record<string, unknown>[];
}

/** Runs the CLI in-process with captured output; `onStdout` sees each write as it happens. */
export async function cli(argv: readonly string[], options: { signal?: AbortSignal; onStdout?: (chunk: string) => void } = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: {
      write: (chunk: string) => {
        stdout += chunk;
        options.onStdout?.(chunk);
        return true;
      },
    },
    stderr: { write: (chunk: string) => ((stderr += chunk), true) },
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const code = await runCli(argv, io);
  return {
    code,
    stdout,
    stderr,
    json: () =>
      stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** `generate --json` on stories260k with one intra-op thread (the machine is shared). */
export const generateJson = (...args: string[]) => cli(['generate', '--model', stories260k, '--threads', '1', '--json', ...args]);
