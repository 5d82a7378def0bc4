import { isatty } from 'node:tty';
import { invocationDir } from './invocation-dir.js';
import type { StdinSource } from './read-text.js';

/** A terminal's input stream, as `node:readline` reads it (`process.stdin` on a terminal). */
export type TerminalInput = NodeJS.ReadableStream & { readonly isTTY?: boolean; setRawMode?(mode: boolean): unknown };

/** Where a command writes, and how it learns that the user wants it to stop. */
export interface CliIo {
  /**
   * With `isTTY: true` (a terminal), `generate`, `chat` and `demo` show the control characters of the
   * model's text (escape sequences, `\r`, backspace…) as visible symbols unless `--raw` is given;
   * anywhere else the text is written byte for byte.
   */
  readonly stdout: { readonly isTTY?: boolean | undefined; write(chunk: string): unknown };
  /** With `isTTY: true`, error lines (which may quote model files) are made terminal-safe too. */
  readonly stderr: { readonly isTTY?: boolean | undefined; write(chunk: string): unknown };
  /**
   * What `--prompt-file -`, `--messages-file -`, `--text-file -` and `weft chat`'s turns read;
   * without it, `-` is a usage error. With `isTTY: true` (a terminal) the command first says on
   * stderr how to end the input.
   */
  readonly stdin?: StdinSource;
  /**
   * The terminal standard input is, when it is one: `weft chat` reads it with line editing, and
   * in raw mode, where Ctrl-C is a key that stops a reply rather than the command. Absent when
   * standard input is not a terminal.
   */
  readonly terminal?: () => TerminalInput;
  /** Aborted on SIGINT or SIGTERM (bin.ts) or by a caller of `runCli`; commands stop at the next step. */
  readonly signal?: AbortSignal;
  /**
   * The directory relative paths (`--model`, `--prompt-file`, `--messages-file`, `--text-file`,
   * `--plugin`) are resolved against, and `--plugin` package names are found from; default: the
   * process's working directory.
   */
  readonly cwd?: string;
}

/**
 * The process's own streams; `cwd` is where the user typed the command (see `invocationDir`).
 * `stdout` and `stderr`: what writes to the real streams, when `process.stdout.write` and
 * `process.stderr.write` were wrapped (`guardProcess`); default: the streams' own `write`.
 */
export function processIo(signal?: AbortSignal, stdout?: (chunk: string) => unknown, stderr?: (chunk: string) => unknown): CliIo {
  // process.stdin is only touched when a command reads it (creating it can hold the process open).
  const terminal = isatty(0);
  const stdin: StdinSource = { [Symbol.asyncIterator]: () => process.stdin[Symbol.asyncIterator](), isTTY: terminal };
  const dir = invocationDir();
  return {
    stdout: stdout === undefined ? process.stdout : { isTTY: process.stdout.isTTY, write: stdout },
    stderr: stderr === undefined ? process.stderr : writingWith(process.stderr, stderr),
    stdin,
    ...(terminal ? { terminal: () => process.stdin } : {}),
    ...(signal ? { signal } : {}),
    ...(dir === process.cwd() ? {} : { cwd: dir }),
  };
}

/**
 * `stream` with `write` in place of its own: its terminal state (`isTTY`, `columns`) is read
 * through, and its `resize` events can be listened to (a chat prompt redraws on them).
 */
function writingWith(stream: NodeJS.WriteStream, write: (chunk: string) => unknown) {
  return {
    get isTTY(): boolean | undefined {
      return stream.isTTY;
    },
    get columns(): number | undefined {
      return stream.columns;
    },
    write,
    on(event: 'resize', listener: () => void): unknown {
      return stream.on(event, listener);
    },
    off(event: 'resize', listener: () => void): unknown {
      return stream.off(event, listener);
    },
  };
}

/** Writes `weft: note: LINE` to the command's stderr: what `openModel`'s `note` is given. */
export function noteTo(io: CliIo): (line: string) => void {
  return (line) => void io.stderr.write(`weft: note: ${line}\n`);
}
