import { holdLine, releaseLine } from './held-line.js';
import type { TextOutput } from './terminal-text.js';

/** What {@link openLine} returns: note each piece of text written, and end the line before an error. */
export interface OpenLine {
  /** Records `text`, just written to the output. */
  wrote(text: string): void;
  /**
   * On a terminal, ends a line the text left open, so that an error reported next (on stderr,
   * which shares the terminal) starts a line of its own; a pipe or file gets nothing added.
   */
  endOnTerminal(): void;
  /** Whether the text written so far ends mid-line (on any output). */
  readonly open: boolean;
}

/**
 * Tracks whether the text a command streamed to `out` ends mid-line (see {@link OpenLine}). On a
 * terminal, an open line is the held line (`held-line.ts`): the process guards end it before
 * writing to the terminal themselves.
 */
export function openLine(out: TextOutput): OpenLine {
  let open = false;
  const endOnTerminal = (): void => {
    releaseLine(endOnTerminal);
    if (!open || out.isTTY !== true) return;
    open = false;
    try {
      out.write('\n');
    } catch {
      // The stdout that failed is what is being reported; the error line follows regardless.
    }
  };
  return {
    wrote(text) {
      if (text === '') return;
      open = !text.endsWith('\n');
      if (open && out.isTTY === true) holdLine(endOnTerminal);
    },
    endOnTerminal,
    get open() {
      return open;
    },
  };
}
