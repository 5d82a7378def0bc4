import type { FinishReason } from '../spec/events.js';
import type { Tokenizer } from '../spec/tokenizer.js';
import { IncrementalDetokenizer } from '../tokenizer/incremental-detokenizer.js';
import { stopPlan, type RowStopMatcher, type StopPlan } from './text/stop-plan.js';

/** One batch row's progress: generated ids, streamed text, stop handling and finish reason. */
export class RowState {
  readonly generated: number[] = [];
  text = '';
  finishReason: FinishReason | undefined;
  /** The step at whose end the loop found the row finished (-1 while it runs); set by the loop. */
  endedAtStep = -1;
  private readonly detokenizer: IncrementalDetokenizer;
  /** Only when the request has stop strings. */
  private readonly stops: RowStopMatcher | undefined;
  /** Ids of special tokens (no text of their own) that stop strings hold; only when there are any. */
  private readonly stopIds: ReadonlySet<number> | undefined;
  /** Only when the request has stop strings. */
  private readonly plan: StopPlan | undefined;

  constructor(
    readonly row: number,
    readonly promptIds: readonly number[],
    tokenizer: Tokenizer,
    stops: readonly string[],
    /** `stopPlan(tokenizer, stops)`, when the caller worked it out once for every row. */
    plan: StopPlan | undefined = stops.length > 0 ? stopPlan(tokenizer, stops) : undefined,
  ) {
    this.detokenizer = new IncrementalDetokenizer(tokenizer, promptIds);
    if (stops.length > 0 && plan) {
      this.stops = plan.matcher();
      this.stopIds = plan.specialIds;
      this.plan = plan;
    }
  }

  get active(): boolean {
    return this.finishReason === undefined;
  }

  /**
   * Appends a generated id; returns the text it releases. A matched stop string finishes the row
   * (`stop`), and so does a special token whose content is a stop string (decoding skips it, so
   * its text never shows): the row's text is then everything before it. In a longer stop string,
   * such a token's content is matched where the token comes.
   */
  accept(id: number): string {
    this.generated.push(id);
    if (this.stopIds?.has(id)) return this.special(id);
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

  /**
   * A special token that stop strings hold. One whose content is a stop ends the row. Else its
   * sentinel goes into the matcher in its place: where decoding cleans up spaces and a trailing
   * space is held back until the next text shows whether it stays, the sentinel waits behind it
   * and comes out with it (`IncrementalDetokenizer.insertMarker`), so `"Sure. "` then the token
   * is matched in that order. Text held for an unfinished character is still matched after it.
   */
  private special(id: number): string {
    const { endIds, sentinels } = this.plan!;
    const sentinel = sentinels?.get(id) ?? '';
    // The sentinel too: a longer stop ending with this token's content (`"\n<|im_end|>"` beside
    // `"<|im_end|>"`) completes together with it, and wins.
    if (endIds?.has(id)) return this.release('stop', sentinel);
    const { emit, stopped } = this.stops!.push(this.detokenizer.push(id) + this.detokenizer.insertMarker(sentinel));
    this.text += emit;
    if (stopped) this.finishReason = 'stop';
    return emit;
  }

  /**
   * Ends the row at an end-of-sequence token (whose id is not kept, as ever). Where stop strings
   * hold that token with other text (`"\n<|im_end|>"`, Qwen's and Gemma's turn ends are EOS), its
   * sentinel goes into the matcher first: a stop it completes ends the row with `stop` and cuts the
   * text there; otherwise the row ends with `eos`, releasing what was held.
   */
  finishAtEos(id: number): string {
    const sentinel = this.plan?.sentinels?.get(id);
    if (sentinel === undefined || this.finishReason !== undefined) return this.finish('eos');
    return this.release('eos', sentinel);
  }

  /** Releases what the detokenizer and the stop matcher hold (then `tail`, a sentinel), and ends the row. */
  private release(reason: FinishReason, tail = ''): string {
    const rest = this.detokenizer.flush();
    let released = rest;
    let ended = reason;
    if (this.stops) {
      const { emit, stopped } = this.stops.push(rest + tail);
      released = stopped ? emit : emit + this.stops.flush();
      if (stopped && reason !== 'abort') ended = 'stop';
    }
    this.finishReason = ended;
    this.text += released;
    return released;
  }
}
