import type { Tokenizer } from '../spec/tokenizer.js';

/** How many earlier ids give the decoder context (leading-space rules, byte fallback). */
const CONTEXT = 4;

/**
 * Turns a growing id sequence into text deltas. Decodes a small window of recent ids twice (with
 * and without the new ones) and emits the difference, holding back while the text ends in an
 * incomplete UTF-8 sequence (U+FFFD), so no broken character ever reaches the stream.
 */
export class IncrementalDetokenizer {
  private readonly ids: number[];
  private prefixOffset: number;
  private readOffset: number;

  constructor(private readonly tokenizer: Tokenizer, contextIds: readonly number[] = []) {
    this.ids = contextIds.slice(-CONTEXT);
    this.prefixOffset = 0;
    this.readOffset = this.ids.length;
  }

  /** Adds one id; returns the text it completes (possibly empty). */
  push(id: number): string {
    this.ids.push(id);
    const prefix = this.tokenizer.decode(this.ids.slice(this.prefixOffset, this.readOffset));
    const full = this.tokenizer.decode(this.ids.slice(this.prefixOffset));
    if (full.length <= prefix.length || full.endsWith('\uFFFD')) return '';
    this.prefixOffset = this.readOffset;
    this.readOffset = this.ids.length;
    return full.slice(prefix.length);
  }

  /** Text still held back at the end of the stream (an incomplete character decodes as U+FFFD). */
  flush(): string {
    const prefix = this.tokenizer.decode(this.ids.slice(this.prefixOffset, this.readOffset));
    const full = this.tokenizer.decode(this.ids.slice(this.prefixOffset));
    this.prefixOffset = this.readOffset = this.ids.length;
    return full.length > prefix.length ? full.slice(prefix.length) : '';
  }
}
