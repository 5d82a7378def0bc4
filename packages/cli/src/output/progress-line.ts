import type { EvalProgress } from '../eval/evaluate-documents.js';

/** Shortest time between two redraws of a {@link progressLine}. */
const REDRAW_MS = 250;

/** A line on a terminal that is redrawn in place as work goes on, and erased when it is done. */
export interface ProgressLine {
  /** Redraws the line with `progress` (at most every 250 ms; the last document always). */
  update(progress: EvalProgress): void;
  /** Erases the line, if one was drawn. */
  clear(): void;
}

/**
 * `weft eval`'s progress on stderr: `weft: eval: 12/50 documents, 9,876 tokens, perplexity so far
 * 1.7012`, redrawn in place (`\r`, then erase to the end of the line). Only on a terminal: piped or
 * redirected stderr gets nothing, so logs hold no carriage returns. `now` is for tests.
 */
export function progressLine(stderr: { readonly isTTY?: boolean | undefined; write(chunk: string): unknown }, now: () => number = () => performance.now()): ProgressLine {
  if (stderr.isTTY !== true) return { update: () => {}, clear: () => {} };
  let drawn = false;
  let last = Number.NEGATIVE_INFINITY;
  return {
    update(progress) {
      const t = now();
      if (progress.done < progress.total && t - last < REDRAW_MS) return;
      last = t;
      drawn = true;
      const perplexity = progress.tokens > 0 ? `, perplexity so far ${Math.exp(progress.nll / progress.tokens).toFixed(4)}` : '';
      stderr.write(`\r\x1b[Kweft: eval: ${progress.done}/${progress.total} documents, ${progress.tokens.toLocaleString('en-US')} tokens${perplexity}`);
    },
    clear() {
      if (drawn) stderr.write('\r\x1b[K');
      drawn = false;
    },
  };
}
