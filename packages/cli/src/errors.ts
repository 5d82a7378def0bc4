import { WeftError } from '@weft/core';

/** Bad command-line input: reported as `weft: <message>` with exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The user interrupted a command (SIGINT) that has no partial result to print. */
export class InterruptedError extends Error {
  override readonly name = 'InterruptedError';
  constructor() {
    super('interrupted');
  }
}

/** Exit codes of the `weft` command. */
export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

/** Exit code for an error: 2 for usage errors and Weft's typed errors, 130 for interrupts, else 1. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError || WeftError.isInstance(error)) return EXIT.usage;
  if (error instanceof InterruptedError) return EXIT.interrupted;
  return EXIT.failure;
}

/** The error's message on one line (runtime messages sometimes span several). */
export function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s*\r?\n\s*/g, ' ').trim() || (error instanceof Error ? error.name : 'unknown error');
}
