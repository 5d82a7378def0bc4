import { describeCause } from '@weft/core';
import { debugStacks, EXIT, shortenLongWords } from './errors.js';
import { endHeldLine } from './output/held-line.js';
import { terminalSafe } from './output/terminal-text.js';

/** Where {@link guardProcess} reports, and the process it guards (the real one in `bin.ts`; tests pass their own). */
export interface GuardedProcess {
  readonly stdout: { write: (...args: never[]) => unknown };
  readonly stderr: { readonly isTTY?: boolean | undefined; write: (...args: never[]) => unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
  exitCode?: number | string | null | undefined;
  on(event: 'unhandledRejection' | 'uncaughtException', listener: (error: unknown) => void): unknown;
  on(event: 'exit', listener: (code?: number) => void): unknown;
  exit(code: number): never;
}

/** What {@link guardProcess} gives back: weft's own stdout and stderr, and ways to say the command has finished or exits on purpose. */
export interface ProcessGuard {
  /** Writes to the real stdout: the only way to it once guarded (see {@link guardProcess}); `done` when written. */
  readonly stdout: (chunk: string, done?: () => void) => unknown;
  /**
   * Writes to the real stderr without ending the held line first: what weft's own output to
   * stderr uses (the held line's owners, which end or redraw it themselves); `done` when written.
   */
  readonly stderr: (chunk: string, done?: () => void) => unknown;
  /** Marks the command as finished (its exit code set): the early-exit reports are then not made. */
  finished(): void;
  /** Marks its output as written out: a `process.exit()` of others' before this is reported (the output cut short). */
  drained(): void;
  /** Exits with `code` on purpose (a closed stdout, a second signal): not reported as an early `process.exit()`. */
  exit(code: number): never;
}

/**
 * Keeps what a `--plugin` (code weft runs but did not write) does outside weft's control from
 * corrupting its output or dying with a raw stack:
 * - stdout carries only weft's own output (the text, or `--json`'s records): anything else written
 *   to `process.stdout` (a plugin's `console.log`) goes to stderr, so `--json` stays parseable;
 * - an error thrown or a promise rejected outside any request (a plugin's timer, an unawaited
 *   promise in its setup) is one line on stderr, `weft: an error escaped …`, and exit code 1
 *   (its stacks with `WEFT_DEBUG` set), instead of Node's multi-line crash report;
 * - what others write to `process.stderr` (a plugin's `console.warn`, Node's warnings) ends the
 *   held line first (`held-line.ts`: eval's progress, streamed text without its newline yet);
 * - a command that can never finish (it awaits something that can never settle, and nothing is
 *   left to run: Node then exits with code 13 and says nothing) says so on stderr, as does a
 *   `process.exit()` that others call before the command finished (exit code 1 for a 0).
 */
export function guardProcess(proc: GuardedProcess): ProcessGuard {
  const stdout = proc.stdout as { write: (...args: unknown[]) => unknown };
  const stderr = proc.stderr as { write: (...args: unknown[]) => unknown };
  const original = stdout.write.bind(proc.stdout);
  const originalStderr = stderr.write.bind(proc.stderr);
  // A line the command holds open on the terminal (eval's progress, streamed text) is ended first,
  // where what others write lands on that terminal: not when stderr goes to a file or a pipe.
  const toTerminal = proc.stderr.isTTY === true;
  stdout.write = (...args: unknown[]) => {
    if (toTerminal) endHeldLine();
    return originalStderr(...args);
  };
  stderr.write = (...args: unknown[]) => {
    if (toTerminal) endHeldLine();
    return originalStderr(...args);
  };
  const report = (line: string, error?: unknown): void => {
    endHeldLine();
    const text = `weft: ${shortenLongWords(line)}\n`;
    originalStderr(proc.stderr.isTTY === true ? `${terminalSafe(text.slice(0, -1))}\n` : text);
    if (error !== undefined && proc.env['WEFT_DEBUG']) {
      const stacks = debugStacks(error);
      originalStderr(proc.stderr.isTTY === true ? terminalSafe(stacks) : stacks);
    }
  };
  let done = false;
  /** Set once the command's output has been written out (`drained`). */
  let written = false;
  /** Set by the guard's own exits (and bin's, through `exit`): those are not reported. */
  let deliberate = false;
  /** Set when others call `process.exit()` (a plugin's). */
  let exitedByOthers = false;
  const realExit = proc.exit.bind(proc);
  proc.exit = ((code?: number): never => {
    if (!deliberate) exitedByOthers = true;
    return realExit(code as number);
  }) as typeof proc.exit;
  const exit = (code: number): never => {
    deliberate = true;
    return realExit(code);
  };
  const escaped = (error: unknown): void => {
    try {
      // describeCause never throws, whatever was thrown (a message that is not a string, an object without a prototype).
      report(`an error escaped the command (thrown outside it, e.g. by a plugin's timer or unawaited promise): ${describeCause(error).replace(/\s*\r?\n\s*/g, ' ')}`, error);
    } catch {
      try {
        originalStderr('weft: an error escaped the command\n');
      } catch {
        // Nowhere left to say it: the exit code does.
      }
    } finally {
      exit(EXIT.failure);
    }
  };
  proc.on('unhandledRejection', escaped);
  proc.on('uncaughtException', escaped);
  proc.on('exit', (code) => {
    if (deliberate) return;
    if (done) {
      // Done, but a process.exit() of others' came before its output was written out: cut short.
      if (!exitedByOthers || written) return;
      report('stopped: process.exit() was called before the output was written out (by a --plugin?)');
      const status = proc.exitCode ?? code ?? 0;
      if (status === 0 || status === '0') proc.exitCode = EXIT.failure;
      return;
    }
    if (proc.exitCode === UNSETTLED_TOP_LEVEL_AWAIT) {
      report('stopped: the command was waiting for something that can never happen (a --plugin whose code awaits a promise nothing settles?)');
      proc.exitCode = EXIT.failure;
      return;
    }
    // Anything else that ends the process before the command finished is a process.exit() weft did
    // not make (a plugin's): its output is cut short, so a 0 must not say it succeeded.
    report('stopped: process.exit() was called before the command finished (by a --plugin?)');
    const status = proc.exitCode ?? code ?? 0;
    if (status === 0 || status === '0') proc.exitCode = EXIT.failure;
  });
  const writer =
    (write: (...args: unknown[]) => unknown) =>
    (chunk: string, written?: () => void): unknown =>
      written === undefined ? write(chunk) : write(chunk, written);
  return { stdout: writer(original), stderr: writer(originalStderr), finished: () => void (done = true), drained: () => void (written = true), exit };
}

/** The exit code Node gives a process whose main module's top-level `await` never settled. */
const UNSETTLED_TOP_LEVEL_AWAIT = 13;
