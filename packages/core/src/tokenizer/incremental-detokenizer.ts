import type { Tokenizer } from '../spec/tokenizer.js';

/** How many earlier ids give the decoder context (leading-space rules, byte fallback). */
const CONTEXT = 4;
/** The decoded window is re-based once it holds this many ids, keeping each decode short. */
const WINDOW = 12;

/**
 * Turns a growing id sequence into text deltas, never emitting a broken UTF-8 character.
 *
 * Byte-level vocabularies (the tokenizer offers `tokenPiece`) stream each token's bytes through
 * one UTF-8 decoder, which holds back an incomplete character by itself: no decode call per token.
 * Other tokenizers decode a short window of recent ids and emit what the new id adds to the
 * window's previous text, holding back while the text ends in U+FFFD; one decode per id, plus one
 * when the window is re-based.
 */
export class IncrementalDetokenizer {
  private readonly ids: number[];
  /** Start of the decoded window. */
  private start = 0;
  /** Text of `ids[start, emitted)`: everything in the window already turned into deltas. */
  private emittedText: string;
  private emitted: number;
  private readonly bytes: ByteStream | undefined;

  constructor(private readonly tokenizer: Tokenizer, contextIds: readonly number[] = []) {
    if (tokenizer.tokenPiece) {
      this.bytes = new ByteStream(tokenizer.tokenPiece);
      // A prompt may end inside a character: its leading bytes complete with the first ids.
      this.bytes.prime(contextIds, Math.max(0, contextIds.length - CONTEXT));
      this.ids = [];
      this.emittedText = '';
      this.emitted = 0;
      return;
    }
    this.ids = contextIds.slice(-CONTEXT);
    this.emitted = this.ids.length;
    this.emittedText = tokenizer.decode(this.ids);
  }

  /** Adds one id; returns the text it completes (possibly empty). */
  push(id: number): string {
    if (this.bytes) return this.bytes.push(id);
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
    if (this.bytes) return this.bytes.flush();
    const full = this.tokenizer.decode(this.ids.slice(this.start));
    const rest = full.length > this.emittedText.length ? full.slice(this.emittedText.length) : '';
    this.start = this.emitted = this.ids.length;
    this.emittedText = '';
    return rest;
  }
}

type PieceOf = (id: number) => Uint8Array | string | null;

/**
 * Per vocabulary (its piece function): each id's text when all its bytes are ASCII, false when
 * they are not. Shared by every stream of the vocabulary, so a new request starts warm.
 */
const asciiTexts = new WeakMap<PieceOf, (string | false | undefined)[]>();

/** Token bytes through one streaming UTF-8 decoder, as byte-level decoding joins them. */
class ByteStream {
  /** Made at the first byte that is not ASCII: most streams never need one. */
  private utf8: TextDecoder | undefined;
  private readonly ascii: (string | false | undefined)[];
  /** Whether the decoder holds no bytes of an unfinished character. */
  private clean = true;

  constructor(private readonly piece: PieceOf) {
    let ascii = asciiTexts.get(piece);
    if (!ascii) asciiTexts.set(piece, (ascii = []));
    this.ascii = ascii;
  }

  /**
   * Feeds `ids[start..]`, which came before the stream (their text is not emitted). Only those
   * after the last ASCII or added-token piece matter: such a piece leaves the decoder holding nothing.
   */
  prime(ids: readonly number[], start: number): void {
    let from = ids.length;
    while (from > start && !this.endsClean(ids[from - 1]!)) from--;
    for (let i = from; i < ids.length; i++) this.push(ids[i]!);
  }

  push(id: number): string {
    const piece = this.piece(id);
    if (piece === null) return '';
    // An added token ends the byte run before it (an incomplete character there becomes U+FFFD).
    if (typeof piece === 'string') {
      this.clean = true;
      return (this.utf8?.decode() ?? '') + piece;
    }
    const ascii = (this.ascii[id] ??= asciiText(piece));
    if (ascii !== false) {
      // ASCII bytes decode to themselves and end any unfinished character before them, so once
      // they have passed through the decoder it holds nothing and they need no decoder at all.
      if (this.clean) return ascii;
      this.clean = true;
      return this.decoder.decode(piece, { stream: true });
    }
    this.clean = false;
    return this.decoder.decode(piece, { stream: true });
  }

  /** Whether the decoder holds nothing after this id, whatever came before it. */
  private endsClean(id: number): boolean {
    const piece = this.piece(id);
    if (piece === null) return false;
    return typeof piece === 'string' || (this.ascii[id] ??= asciiText(piece)) !== false;
  }

  flush(): string {
    this.clean = true;
    return this.utf8?.decode() ?? '';
  }

  private get decoder(): TextDecoder {
    // ignoreBOM: a U+FEFF the model writes is text, as in the tokenizer's own decode.
    return (this.utf8 ??= new TextDecoder('utf-8', { ignoreBOM: true }));
  }
}

function asciiText(bytes: Uint8Array): string | false {
  let text = '';
  for (const b of bytes) {
    if (b >= 0x80) return false;
    text += String.fromCharCode(b);
  }
  return text;
}
