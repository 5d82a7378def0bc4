import type { StdinSource } from './read-text.js';

/** Where a command writes, and how it learns that the user wants it to stop. */
export interface CliIo {
  readonly stdout: { write(chunk: string): unknown };
  readonly stderr: { write(chunk: string): unknown };
  /** What `--prompt-file -` reads; without it, `-` is a usage error. */
  readonly stdin?: StdinSource;
  /** Aborted on SIGINT (bin.ts) or by a caller of `runCli`; commands stop at the next step. */
  readonly signal?: AbortSignal;
}

/** The process's own streams. */
export function processIo(signal?: AbortSignal): CliIo {
  // process.stdin is only touched when a command reads it (creating it can hold the process open).
  const stdin: StdinSource = { [Symbol.asyncIterator]: () => process.stdin[Symbol.asyncIterator]() };
  const io = { stdout: process.stdout, stderr: process.stderr, stdin };
  return signal ? { ...io, signal } : io;
}
