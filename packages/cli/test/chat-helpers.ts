import { PassThrough } from 'node:stream';
import { expect } from 'vitest';
import { runCli, type CliIo } from '../src/index.js';
import { cli } from './helpers.js';

export interface ChatResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout's JSON lines (with --json). */
  records(): Record<string, unknown>[];
  /** The done records, one per completed reply, in order. */
  done(): Record<string, unknown>[];
}

export interface ChatOptions {
  /** Piped standard input: what the command reads line by line. */
  readonly stdin?: string | Uint8Array | readonly (string | Uint8Array)[];
  /** A terminal's input (`io.terminal`): the test types into it. */
  readonly terminal?: PassThrough;
  readonly signal?: AbortSignal;
  /** Called after each write with all that stdout and stderr have received so far. */
  readonly onOutput?: (stdout: string, stderr: string) => void;
  readonly stdoutTty?: boolean;
  /** stderr's `isTTY`; by default true with a `terminal` (where the prompt is drawn), else unset. */
  readonly stderrTty?: boolean;
}

/** Runs `weft chat ARGS` in-process (runCli), with captured output. */
export async function chat(args: readonly string[], options: ChatOptions = {}): Promise<ChatResult> {
  let stdout = '';
  let stderr = '';
  const seen = (): void => options.onOutput?.(stdout, stderr);
  const stdin = options.stdin;
  const stderrTty = options.stderrTty ?? (options.terminal === undefined ? undefined : true);
  const io: CliIo = {
    stdout: { ...(options.stdoutTty === undefined ? {} : { isTTY: options.stdoutTty }), write: (chunk: string) => ((stdout += chunk), seen(), true) },
    stderr: { ...(stderrTty === undefined ? {} : { isTTY: stderrTty }), write: (chunk: string) => ((stderr += chunk), seen(), true) },
    ...(stdin === undefined ? {} : { stdin: typeof stdin === 'string' || stdin instanceof Uint8Array ? [stdin] : stdin }),
    ...(options.terminal === undefined ? {} : { terminal: () => options.terminal!, stdin: [] }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  };
  const code = await runCli(['chat', '--threads', '1', ...args], io);
  const records = (): Record<string, unknown>[] =>
    stdout
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, stdout, stderr, records, done: () => records().filter((r) => r['type'] === 'done') };
}

/** A terminal's input stream for `io.terminal` (readline reads it as keys: `\r` is Enter, `\x03` Ctrl-C, `\x04` Ctrl-D). */
export function fakeTerminal(): PassThrough {
  const input = new PassThrough();
  Object.assign(input, { isTTY: true });
  return input;
}

/** Prompts ("> ") drawn on stderr so far; readline draws each after clearing the line. */
export const promptsDrawn = (stderr: string): number => stderr.split('> ').length - 1;

/** One step of a {@link scriptedTerminal}: once `when` holds for the output so far, `keys` are typed. */
export interface TerminalStep {
  readonly when: (stdout: string, stderr: string) => boolean;
  readonly keys: string;
}

/**
 * A terminal session of `weft chat` (in-process, on a fake terminal) that types each step's keys,
 * in order, once the output shows its condition. `steps` is how many were typed.
 */
export async function scriptedTerminal(args: readonly string[], script: readonly TerminalStep[]): Promise<ChatResult & { readonly steps: number }> {
  const keys = fakeTerminal();
  let step = 0;
  const result = await chat(args, {
    terminal: keys,
    onOutput: (stdout, stderr) => {
      const next = script[step];
      if (next !== undefined && next.when(stdout, stderr)) {
        step++;
        keys.write(next.keys);
      }
    },
  });
  return { ...result, steps: step };
}

/**
 * A terminal session of `weft chat`: `first` is sent, its reply is stopped with Ctrl-C at its first
 * token (make it long: far more tokens than arrive before the key is read), then `second` is sent
 * and answered, then Ctrl-D ends the session. `steps` is 4 when every key was sent.
 */
export function stoppedThenAnswered(args: readonly string[], first: string, second: string): Promise<ChatResult & { readonly steps: number }> {
  return scriptedTerminal(args, [
    { when: (_, stderr) => promptsDrawn(stderr) === 1, keys: `${first}\r` },
    { when: (stdout) => stdout.includes('"type":"token"'), keys: '\x03' },
    { when: (_, stderr) => promptsDrawn(stderr) === 2, keys: `${second}\r` },
    { when: (stdout, stderr) => stdout.includes('"turn":2') && stdout.includes('"type":"done"') && promptsDrawn(stderr) === 3, keys: '\x04' },
  ]);
}

/** A `weft chat --json` done record, as the tests read it. */
export interface ChatDone {
  type: 'done';
  turn: number;
  ids: number[];
  finishReason: string;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
}

/** A conversation's messages from its turns' contents, alternating user and assistant from a user turn. */
export function chatTurns(...contents: readonly string[]): { role: 'user' | 'assistant'; content: string }[] {
  return contents.map((content, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content }));
}

/** `weft generate --json --messages` on the same model and flags: what one chat turn must equal. */
export async function generateMessages(messages: readonly { role: string; content: string }[], ...args: string[]): Promise<ChatDone & { text: string }> {
  const result = await cli(['generate', '--threads', '1', '--json', '--messages', JSON.stringify(messages), ...args]);
  expect(result.code).toBe(0);
  return result.json().at(-1) as unknown as ChatDone & { text: string };
}
