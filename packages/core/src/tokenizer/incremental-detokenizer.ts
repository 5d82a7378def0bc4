import type { Tokenizer } from '../spec/tokenizer.js';

/** How many earlier ids give the decoder context (leading-space rules, byte fallback). */
const CONTEXT = 4;
/** The decoded window is re-based once it holds this many ids, keeping each decode short. */
const WINDOW = 12;

/**
 * Turns a growing id sequence into text deltas. It decodes a short window of recent ids and emits
 * what the new id adds to the window's previous text, holding back while the text ends in an
 * incomplete UTF-8 sequence (U+FFFD), so no broken character ever reaches the stream. One decode
 * per id, plus one when the window is re-based.
 */
export class IncrementalDetokenizer {
  private readonly ids: number[];
  /** Start of the decoded window. */
  private start = 0;
  /** Text of `ids[start, emitted)`: everything in the window already turned into deltas. */
  private emittedText: string;
  private emitted: number;

  constructor(private readonly tokenizer: Tokenizer, contextIds: readonly number[] = []) {
    this.ids = contextIds.slice(-CONTEXT);
    this.emitted = this.ids.length;
    this.emittedText = tokenizer.decode(this.ids);
  }

  /** Adds one id; returns the text it completes (possibly empty). */
  push(id: number): string {
    this.ids.push(id);
    const full = this.tokenizer.decode(this.ids.slice(this.start));
    if (full.length <= this.emittedText.length || full.endsWith('\uFFFD')) return '';
    const delta = full.slice(this.emittedText.length);
    this.emitted = this.ids.length;
    if (this.emitted - this.start >= WINDOW) {
      this.start = this.emitted - CONTEXT;
      this.emittedText = this.tokenizer.decode(this.ids.slice(this.start));
    } else {
      this.emittedText = full;
    }
    return delta;
  }

  /** Text still held back at the end of the stream (an incomplete character decodes as U+FFFD). */
  flush(): string {
    const full = this.tokenizer.decode(this.ids.slice(this.start));
    const rest = full.length > this.emittedText.length ? full.slice(this.emittedText.length) : '';
    this.start = this.emitted = this.ids.length;
    this.emittedText = '';
    return rest;
  }
}
