import type { EvalProgress } from '../eval/evaluate-documents.js';
import { holdLine, releaseLine } from './held-line.js';

/** Shortest time between two redraws of a {@link progressLine}. */
const REDRAW_MS = 250;

/** A line on a terminal that is redrawn in place as work goes on, and erased when it is done. */
export interface ProgressLine {
  /** Redraws the line with `progress` (at most every 250 ms; the last document always). */
  update(progress: EvalProgress): void;
  /** Erases the line, if one was drawn. */
  clear(): void;
}

/** Narrowest terminal the line is drawn on: below it, nothing is (a cut line would say too little). */
const MIN_COLUMNS = 20;

/**
 * `weft eval`'s progress on stderr: `weft: eval: 12/50 documents, 9,876 tokens, perplexity so far
 * 1.7012` (with `(document 13: window 3/40)` after the count within a document longer than the
 * context), redrawn in place (`\r`, then erase to the end of the line), cut to the terminal's width
 * less one (`stderr.columns`, default 80) so that it never wraps (a wrapped line's first row would
 * stay behind). Only on a terminal: piped or redirected stderr gets nothing, so logs hold no
 * carriage returns. While drawn it is the held line (`held-line.ts`), which the process guards end
 * before writing. `now` is for tests.
 */
export function progressLine(
  stderr: { readonly isTTY?: boolean | undefined; readonly columns?: number | undefined; write(chunk: string): unknown },
  now: () => number = () => performance.now(),
): ProgressLine {
  if (stderr.isTTY !== true) return { update: () => {}, clear: () => {} };
  let drawn = false;
  let last = Number.NEGATIVE_INFINITY;
  const clear = (): void => {
    releaseLine(clear);
    if (drawn) stderr.write('\r\x1b[K');
    drawn = false;
  };
  return {
    update(progress) {
      const t = now();
      if (progress.done < progress.total && t - last < REDRAW_MS) return;
      last = t;
      // A pty with no size set reports 0 columns: taken as unknown.
      const columns = typeof stderr.columns === 'number' && Number.isFinite(stderr.columns) && stderr.columns > 0 ? stderr.columns : 80;
      if (columns < MIN_COLUMNS) return;
      const perplexity = progress.tokens > 0 ? `, perplexity so far ${Math.exp(progress.nll / progress.tokens).toFixed(4)}` : '';
      const window = progress.window === undefined ? '' : ` (document ${progress.done + 1}: window ${progress.window.done}/${progress.window.total})`;
      const line = `weft: eval: ${progress.done}/${progress.total} documents${window}, ${progress.tokens.toLocaleString('en-US')} tokens${perplexity}`;
      drawn = true;
      holdLine(clear);
      stderr.write(`\r\x1b[K${line.length < columns ? line : `${line.slice(0, columns - 2)}…`}`);
    },
    clear,
  };
}
