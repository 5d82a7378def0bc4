import type { FinishReason } from '../spec/events.js';
import type { Tokenizer } from '../spec/tokenizer.js';
import { IncrementalDetokenizer } from '../tokenizer/incremental-detokenizer.js';
import { StopMatcher } from './text/stop-matcher.js';
import { specialStopIds } from './text/special-stop-ids.js';

/** One batch row's progress: generated ids, streamed text, stop handling and finish reason. */
export class RowState {
  readonly generated: number[] = [];
  text = '';
  finishReason: FinishReason | undefined;
  /** The step at whose end the loop found the row finished (-1 while it runs); set by the loop. */
  endedAtStep = -1;
  private readonly detokenizer: IncrementalDetokenizer;
  /** Only when the request has stop strings. */
  private readonly stops: StopMatcher | undefined;
  /** Ids of special tokens (no text of their own) whose content is a stop string; only when there are any. */
  private readonly stopIds: ReadonlySet<number> | undefined;

  constructor(
    readonly row: number,
    readonly promptIds: readonly number[],
    tokenizer: Tokenizer,
    stops: readonly string[],
    /** `specialStopIds(tokenizer, stops)`, when the caller computed it once for every row. */
    stopIds: ReadonlySet<number> | undefined = stops.length > 0 ? specialStopIds(tokenizer, stops) : undefined,
  ) {
    this.detokenizer = new IncrementalDetokenizer(tokenizer, promptIds);
    if (stops.length > 0) {
      this.stops = new StopMatcher(stops);
      this.stopIds = stopIds;
    }
  }

  get active(): boolean {
    return this.finishReason === undefined;
  }

  /**
   * Appends a generated id; returns the text it releases. A matched stop string finishes the row
   * (`stop`), and so does a special token whose content is a stop string (decoding skips it, so
   * its text never shows): the row's text is then everything before it.
   */
  accept(id: number): string {
    this.generated.push(id);
    if (this.stopIds?.has(id)) return this.release('stop');
    const piece = this.detokenizer.push(id);
    if (!this.stops) {
      this.text += piece;
      return piece;
    }
    const { emit, stopped } = this.stops.push(piece);
    this.text += emit;
    if (stopped) this.finishReason = 'stop';
    return emit;
  }

  /**
   * Ends the row; text held back for UTF-8 or stop-string matching is released unless a stop
   * matched. Returns the released text ('' when none, or when the row had already ended). Text
   * held back only until the next text showed whether a clean-up of spaces rewrites it (a trailing
   * " ") may complete a stop string here: the text is cut there and, unless the row was aborted,
   * it ends with `stop`, as it would have had that text come out at its own token.
   */
  finish(reason: FinishReason): string {
    if (this.finishReason !== undefined) return '';
    return this.release(reason);
  }

  /** Releases what the detokenizer and the stop matcher hold, and ends the row. */
  private release(reason: FinishReason): string {
    const rest = this.detokenizer.flush();
    let released = rest;
    let ended = reason;
    if (this.stops) {
      const { emit, stopped } = this.stops.push(rest);
      released = stopped ? emit : emit + this.stops.flush();
      if (stopped && reason !== 'abort') ended = 'stop';
    }
    this.finishReason = ended;
    this.text += released;
    return released;
  }
}
