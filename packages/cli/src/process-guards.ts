import { describeCause } from '@weft/core';
import { debugStacks, EXIT, shortenLongWords } from './errors.js';
import { endHeldLine } from './output/held-line.js';
import { terminalSafe } from './output/terminal-text.js';

/** Where {@link guardProcess} reports, and the process it guards (the real one in `bin.ts`; tests pass their own). */
export interface GuardedProcess {
  readonly stdout: { write: (...args: never[]) => unknown };
  readonly stderr: { readonly isTTY?: boolean | undefined; write(chunk: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
  exitCode?: number | string | null | undefined;
  on(event: 'unhandledRejection' | 'uncaughtException', listener: (error: unknown) => void): unknown;
  on(event: 'exit', listener: () => void): unknown;
  exit(code: number): never;
}

/** What {@link guardProcess} gives back: weft's own stdout, and a way to say the command has finished. */
export interface ProcessGuard {
  /** Writes to the real stdout: the only way to it once guarded (see {@link guardProcess}); `done` when written. */
  readonly stdout: (chunk: string, done?: () => void) => unknown;
  /** Marks the command as finished (its exit code set): the unsettled-exit report is then not made. */
  finished(): void;
}

/**
 * Keeps what a `--plugin` (code weft runs but did not write) does outside weft's control from
 * corrupting its output or dying with a raw stack:
 * - stdout carries only weft's own output (the text, or `--json`'s records): anything else written
 *   to `process.stdout` (a plugin's `console.log`) goes to stderr, so `--json` stays parseable;
 * - an error thrown or a promise rejected outside any request (a plugin's timer, an unawaited
 *   promise in its setup) is one line on stderr, `weft: an error escaped …`, and exit code 1
 *   (its stacks with `WEFT_DEBUG` set), instead of Node's multi-line crash report;
 * - a command that can never finish (it awaits something that can never settle, and nothing is
 *   left to run: Node then exits with code 13 and says nothing) says so on stderr.
 */
export function guardProcess(proc: GuardedProcess): ProcessGuard {
  const stdout = proc.stdout as { write: (...args: unknown[]) => unknown };
  const original = stdout.write.bind(proc.stdout);
  stdout.write = (...args: unknown[]) => {
    // A line the command holds open on the terminal (eval's progress) is ended first.
    endHeldLine();
    return (proc.stderr.write as (...a: unknown[]) => unknown)(...args);
  };
  const report = (line: string, error?: unknown): void => {
    endHeldLine();
    const text = `weft: ${shortenLongWords(line)}\n`;
    proc.stderr.write(proc.stderr.isTTY === true ? `${terminalSafe(text.slice(0, -1))}\n` : text);
    if (error !== undefined && proc.env['WEFT_DEBUG']) {
      const stacks = debugStacks(error);
      proc.stderr.write(proc.stderr.isTTY === true ? terminalSafe(stacks) : stacks);
    }
  };
  const escaped = (error: unknown): void => {
    try {
      // describeCause never throws, whatever was thrown (a message that is not a string, an object without a prototype).
      report(`an error escaped the command (thrown outside it, e.g. by a plugin's timer or unawaited promise): ${describeCause(error).replace(/\s*\r?\n\s*/g, ' ')}`, error);
    } catch {
      try {
        proc.stderr.write('weft: an error escaped the command\n');
      } catch {
        // Nowhere left to say it: the exit code does.
      }
    } finally {
      proc.exit(EXIT.failure);
    }
  };
  proc.on('unhandledRejection', escaped);
  proc.on('uncaughtException', escaped);
  let done = false;
  proc.on('exit', () => {
    if (done || proc.exitCode !== UNSETTLED_TOP_LEVEL_AWAIT) return;
    report('stopped: the command was waiting for something that can never happen (a --plugin whose code awaits a promise nothing settles?)');
    proc.exitCode = EXIT.failure;
  });
  return { stdout: (chunk, written) => (written === undefined ? original(chunk) : original(chunk, written)), finished: () => void (done = true) };
}

/** The exit code Node gives a process whose main module's top-level `await` never settled. */
const UNSETTLED_TOP_LEVEL_AWAIT = 13;
