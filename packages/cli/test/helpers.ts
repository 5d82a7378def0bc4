import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli, type CliIo } from '../src/index.js';

export const storyModel = fileURLToPath(new URL('../../../models/story', import.meta.url));
export const stories260k = fileURLToPath(new URL('../../../../shared/models/stories260k', import.meta.url));
export const hasStories260k = existsSync(stories260k);
if (!hasStories260k) console.warn(`[weft cli tests] ${stories260k} is absent: its runs are skipped (the project's own model still runs every test).`);

/** A model the CLI tests run on, with the facts they check against (read from its folder). */
export interface TestModel {
  readonly name: string;
  readonly dir: string;
  readonly vocab: number;
  readonly context: number;
  readonly chatTemplate: boolean;
}

function testModel(dir: string): TestModel {
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, number>;
  const tokenizerConfig = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  return { name: basename(dir), dir, vocab: config['vocab_size']!, context: config['max_position_embeddings']!, chatTemplate: 'chat_template' in tokenizerConfig };
}

/** The project's own model always; the third-party stories260k (sentencepiece-style tokenizer) where ../shared has it. */
export const MODELS: readonly TestModel[] = [testModel(storyModel), ...(hasStories260k ? [testModel(stories260k)] : [])];

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout split into parsed JSON lines. */
  json(): Record<string, unknown>[];
}

/**
 * Runs the CLI in-process with captured output; `onStdout` sees each write as it happens,
 * `stdin` is what `--prompt-file -` reads, `cwd` is what relative paths are relative to, and
 * `tty: true` makes stdout say it is a terminal (`isTTY`), `stderrTty: true` stderr.
 */
export async function cli(
  argv: readonly string[],
  options: { signal?: AbortSignal; onStdout?: (chunk: string) => void; stdin?: Uint8Array | string; cwd?: string; tty?: boolean; stderrTty?: boolean } = {},
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: {
      ...(options.tty === undefined ? {} : { isTTY: options.tty }),
      write: (chunk: string) => {
        stdout += chunk;
        options.onStdout?.(chunk);
        return true;
      },
    },
    stderr: { ...(options.stderrTty === undefined ? {} : { isTTY: options.stderrTty }), write: (chunk: string) => ((stderr += chunk), true) },
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.stdin === undefined ? {} : { stdin: [options.stdin] }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
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

/** `generate --json` on `model` with one intra-op thread (the machine is shared). */
export const generateJson = (model: string, ...args: string[]) => cli(['generate', '--model', model, '--threads', '1', '--json', ...args]);
