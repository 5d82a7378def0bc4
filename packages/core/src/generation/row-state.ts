import type { FinishReason } from '../spec/events.js';
import type { Tokenizer } from '../spec/tokenizer.js';
import { IncrementalDetokenizer } from '../tokenizer/incremental-detokenizer.js';
import { StopMatcher } from './text/stop-matcher.js';

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

  constructor(
    readonly row: number,
    readonly promptIds: readonly number[],
    tokenizer: Tokenizer,
    stops: readonly string[],
  ) {
    this.detokenizer = new IncrementalDetokenizer(tokenizer, promptIds);
    if (stops.length > 0) this.stops = new StopMatcher(stops);
  }

  get active(): boolean {
    return this.finishReason === undefined;
  }

  /** Appends a generated id; returns the text it releases. A matched stop string finishes the row (`stop`). */
  accept(id: number): string {
    this.generated.push(id);
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
   * matched. Returns the released text ('' when none, or when the row had already ended).
   */
  finish(reason: FinishReason): string {
    if (this.finishReason !== undefined) return '';
    this.finishReason = reason;
    const rest = this.detokenizer.flush();
    if (!this.stops) {
      this.text += rest;
      return rest;
    }
    const { emit } = this.stops.push(rest);
    const released = emit + this.stops.flush();
    this.text += released;
    return released;
  }
}
