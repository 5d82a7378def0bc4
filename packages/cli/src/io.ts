/** Where a command writes, and how it learns that the user wants it to stop. */
export interface CliIo {
  readonly stdout: { write(chunk: string): unknown };
  readonly stderr: { write(chunk: string): unknown };
  /** Aborted on SIGINT (bin.ts) or by a caller of `runCli`; commands stop at the next step. */
  readonly signal?: AbortSignal;
}

/** The process's own streams. */
export function processIo(signal?: AbortSignal): CliIo {
  return signal ? { stdout: process.stdout, stderr: process.stderr, signal } : { stdout: process.stdout, stderr: process.stderr };
}
