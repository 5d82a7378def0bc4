import type { Tokenizer } from '../spec/tokenizer.js';
import { concatBytes } from '../util/concat-bytes.js';
import { cleanUpSpaces, cleanUpSpacesAround, decodeWithoutCleanUp, settledLength, type TextMarker } from './clean-up-spaces.js';
import { specialContentOf } from './special-content.js';

/** How many earlier ids give the decoder context (leading-space rules, byte fallback). */
const CONTEXT = 4;
/** The decoded window is re-based once it holds this many ids, keeping each decode short. */
const WINDOW = 12;
/** Ids at the end of the window that may still begin a character (three bytes of a four-byte one). */
const HELD_IDS = 3;

/**
 * Whether `tokenizer.decode` drops an id: one past its ids (a model's embedding padded beyond the
 * tokenizer, which sampling can still pick), or a special token (see {@link specialContentOf}).
 */
function skippedBy(tokenizer: Tokenizer): (id: number) => boolean {
  const special = specialContentOf(tokenizer);
  return (id) => !(id >= 0 && id < tokenizer.vocabSize) || special(id) !== '';
}

/**
 * Turns a growing id sequence into text deltas, never emitting a broken UTF-8 character.
 *
 * Byte-level vocabularies (the tokenizer offers `tokenPiece`) stream each token's bytes as UTF-8,
 * holding back only an unfinished character's bytes: no decode of ids per token, and none at all
 * for ASCII pieces.
 * Other tokenizers decode a short window of recent ids and emit what the new id adds to the
 * window's previous text, holding back while the text ends in U+FFFD; one decode per id, plus one
 * when the window is re-based. Where decoding cleans up spaces (" ." → "."), which can rewrite text
 * already emitted, the window is decoded without the clean-up, and the text is cleaned up as it
 * settles: a trailing " ", " '", " n"… is held back until the next text shows whether it is rewritten
 * (a marker of the caller's put in meanwhile, see `insertMarker`, waits behind it).
 * Special tokens and ids past the vocabulary, which decoding skips, never enter the window, and a
 * run of invalid bytes comes out as it goes (U+FFFD each, as decode gives them), so a long run of
 * any of them keeps the window short.
 */
export class IncrementalDetokenizer {
  private readonly ids: number[];
  /** Start of the decoded window. */
  private start = 0;
  /** Text of `ids[start, emitted)`: everything in the window already turned into deltas. */
  private emittedText: string;
  private emitted: number;
  private readonly bytes: ByteStream | undefined;
  /**
   * Set while the prompt's last ids may be the start of a character: the window's text before
   * them. Cleared by the first delta.
   */
  private beforeUnfinished: string | undefined;
  /** Decodes the window: the tokenizer's decode, or that decode without its clean-up of spaces. */
  private readonly decodeWindow: (ids: readonly number[]) => string;
  /** Only where decoding cleans up spaces: window text not cleaned up and emitted yet. */
  private unsettled: string | undefined;
  /** Markers inside `unsettled` (offsets into it, in order); undefined while there are none. */
  private markers: TextMarker[] | undefined;

  /** Whether decoding skips an id (a special token): only on the windowed path. */
  private readonly skipped: ((id: number) => boolean) | undefined;

  constructor(tokenizer: Tokenizer, contextIds: readonly number[] = []) {
    const uncleaned = decodeWithoutCleanUp(tokenizer);
    this.decodeWindow = uncleaned ?? ((ids) => tokenizer.decode(ids));
    if (tokenizer.tokenPiece) {
      this.bytes = new ByteStream(tokenizer.tokenPiece);
      // A prompt may end inside a character: its leading bytes complete with the first ids.
      this.bytes.prime(contextIds, Math.max(0, contextIds.length - CONTEXT));
      this.ids = [];
      this.emittedText = '';
      this.emitted = 0;
      return;
    }
    if (uncleaned) this.unsettled = '';
    this.skipped = skippedBy(tokenizer);
    this.ids = contextIds.slice(-CONTEXT);
    this.emitted = this.ids.length;
    this.emittedText = this.decodeWindow(this.ids);
    // The prompt may end inside a character (byte-fallback ids, or a byte-level piece such as "rÃ"):
    // its text ends in U+FFFD, one for the unfinished character, which the completing ids replace
    // by the character. Remember the text before that U+FFFD: not the text of fewer ids, which
    // would drop what the last id holds before the character ("r"), or invalid bytes before it.
    if (this.emittedText.endsWith('\uFFFD')) this.beforeUnfinished = this.emittedText.slice(0, -1);
  }

  /**
   * The text of the window already turned into deltas that `text` (a decode of the window) goes
   * on from: `emittedText`, or while the prompt's unfinished character may still be completed and
   * `text` completes it, the text before that character. Undefined when `text` goes on from neither.
   */
  private emittedBase(text: string): string | undefined {
    if (text.startsWith(this.emittedText)) return this.emittedText;
    return this.beforeUnfinished !== undefined && text.startsWith(this.beforeUnfinished) ? this.beforeUnfinished : undefined;
  }

  /** Adds one id; returns the text it completes (possibly empty). */
  push(id: number): string {
    if (this.bytes) return this.bytes.push(id);
    // Decoding drops special tokens before anything else, so the window can leave them out: a long
    // run of them (e.g. EOS with `ignoreEos`) would otherwise keep growing the window, and every
    // decode with it.
    if (this.skipped!(id)) return '';
    this.ids.push(id);
    const full = this.decodeWindow(this.ids.slice(this.start));
    if (full.endsWith('\uFFFD')) return this.ids.length - this.emitted > HELD_IDS ? this.emitFinal(full) : '';
    // Where the new ids completed the character the prompt began, it is new text.
    const base = this.emittedBase(full);
    if (base === undefined || full.length <= base.length) return '';
    const delta = full.slice(base.length);
    this.beforeUnfinished = undefined;
    this.emitted = this.ids.length;
    if (this.emitted - this.start >= WINDOW) {
      this.start = this.emitted - CONTEXT;
      this.emittedText = this.decodeWindow(this.ids.slice(this.start));
    } else {
      this.emittedText = full;
    }
    return this.settle(delta);
  }

  /**
   * The window (`full`) ends in U+FFFD after more ids than an unfinished character can span: an
   * unfinished character is at most three bytes, so only the last `HELD_IDS` ids can hold it; the
   * text before them is final where it is a prefix of `full` (no character cut in two), U+FFFD of
   * invalid bytes included, as the tokenizer's decode gives it. Emits that text and re-bases the window, so a long run of
   * invalid bytes costs no more per id than valid text does.
   */
  private emitFinal(full: string): string {
    const cut = this.ids.length - HELD_IDS;
    const text = this.decodeWindow(this.ids.slice(this.start, cut));
    // A cut through a character that the ids after it complete, or one whose last U+FFFD may be
    // the start of the unfinished character (ids that add no bytes can sit inside one): try again
    // at the next id.
    const base = this.emittedBase(text);
    if (!full.startsWith(text) || base === undefined) return '';
    if (text.length === full.length) return '';
    // Nor may a character that is already final sit across the cut (its first bytes, then ids
    // without bytes, then its last): the window re-based after the cut would decode its last
    // bytes again, as a U+FFFD of their own. The two sides then decode apart to the whole.
    if (text + this.decodeWindow(this.ids.slice(cut)) !== full) return '';
    // Text after the cut: the prompt's unfinished character, if any, is decided (completed, or
    // its U+FFFD final).
    const delta = text.slice(base.length);
    this.beforeUnfinished = undefined;
    this.emitted = cut;
    if (this.emitted - this.start >= WINDOW) {
      this.start = this.emitted - CONTEXT;
      this.emittedText = this.decodeWindow(this.ids.slice(this.start, this.emitted));
    } else {
      this.emittedText = text;
    }
    return this.settle(delta);
  }

  /**
   * Puts `marker` (text of the caller's, such as a sentinel standing for a special token that
   * decoding skips) into the stream where the text so far ends, and returns what it releases: the
   * marker at once, unless decoding cleans up spaces and text is held back until the next text
   * shows how it is cleaned up (a trailing " "). The marker then stays behind that text and comes
   * out with it, at its place in the text as cleaned up (" " + marker + "." gives marker + "."), so
   * a caller matching text around it sees the order the model wrote. Text still held for an
   * unfinished character comes after the marker.
   */
  insertMarker(marker: string): string {
    if (!this.unsettled) return marker;
    (this.markers ??= []).push({ offset: this.unsettled.length, marker });
    return '';
  }

  /** `text` as it is, or where decoding cleans up spaces, the settled part of what is pending, cleaned up. */
  private settle(text: string, end = false): string {
    if (this.unsettled === undefined) return text;
    const pending = this.unsettled + text;
    const n = end ? pending.length : settledLength(pending);
    this.unsettled = pending.slice(n);
    if (this.markers) return this.settleMarked(pending, n);
    return n === 0 ? '' : cleanUpSpaces(pending.slice(0, n));
  }

  /** As `settle` while markers are held: those in the settled `pending.slice(0, n)` come out in their places. */
  private settleMarked(pending: string, n: number): string {
    const markers = this.markers!;
    let released = 0;
    while (released < markers.length && markers[released]!.offset <= n) released++;
    const rest = markers.slice(released).map(({ offset, marker }) => ({ offset: offset - n, marker }));
    this.markers = rest.length > 0 ? rest : undefined;
    if (released === 0) return n === 0 ? '' : cleanUpSpaces(pending.slice(0, n));
    return cleanUpSpacesAround(pending.slice(0, n), markers.slice(0, released));
  }

  /** Text still held back at the end of the stream (an incomplete character decodes as U+FFFD). */
  flush(): string {
    if (this.bytes) return this.bytes.flush();
    const full = this.decodeWindow(this.ids.slice(this.start));
    const base = this.emittedBase(full);
    const rest = base !== undefined && full.length > base.length ? full.slice(base.length) : '';
    this.beforeUnfinished = undefined;
    this.start = this.emitted = this.ids.length;
    this.emittedText = '';
    return this.settle(rest, true);
  }
}

type PieceOf = (id: number) => Uint8Array | string | null;

/**
 * Per vocabulary (its piece function): each id's text when all its bytes are ASCII, false when
 * they are not. Shared by every stream of the vocabulary, so a new request starts warm.
 */
const asciiTexts = new WeakMap<PieceOf, (string | false | undefined)[]>();

/**
 * Token bytes joined and decoded as UTF-8, exactly as a streaming `TextDecoder` would decode them
 * piece by piece, without one: only the bytes of an unfinished character (at most three) are held
 * between pieces, and complete runs go through one shared, stateless decoder. A stream therefore
 * costs no decoder of its own, and priming it from the prompt decodes nothing.
 */
class ByteStream {
  private readonly ascii: (string | false | undefined)[];
  /** The leading bytes of a character the next piece should complete; undefined when none. */
  private held: Uint8Array | undefined;
  /**
   * Set while `held` starts with the prompt's unfinished character and no text came out since. The
   * prompt's own text already shows that character as one U+FFFD; if the generated bytes do not
   * complete it, the same U+FFFD comes first out of the decoder, and is not new text.
   */
  private promptPending = false;

  constructor(private readonly piece: PieceOf) {
    let ascii = asciiTexts.get(piece);
    if (!ascii) asciiTexts.set(piece, (ascii = []));
    this.ascii = ascii;
  }

  /**
   * Takes the state `ids[start..]` would leave, without their text. Only the ids after the last
   * ASCII or added-token piece matter (such a piece leaves nothing held), and of their bytes only
   * an unfinished character at the end.
   */
  prime(ids: readonly number[], start: number): void {
    let from = ids.length;
    while (from > start && !this.endsClean(ids[from - 1]!)) from--;
    this.held = undefined;
    if (from === ids.length) return; // the usual case: the prompt ends in ASCII or an added token
    const pieces: Uint8Array[] = [];
    for (let i = from; i < ids.length; i++) {
      const piece = this.piece(ids[i]!);
      if (piece instanceof Uint8Array) pieces.push(piece);
    }
    if (pieces.length === 0) return;
    const bytes = pieces.length === 1 ? pieces[0]! : concatBytes(pieces);
    const cut = unfinishedTail(bytes);
    if (cut < bytes.length) this.held = bytes.slice(cut);
    this.promptPending = this.held !== undefined;
  }

  push(id: number): string {
    const piece = this.piece(id);
    if (piece === null) return '';
    // An added token ends the byte run before it (an unfinished character there becomes U+FFFD).
    if (typeof piece === 'string') return this.flush() + piece;
    // ASCII bytes decode to themselves and end any unfinished character before them.
    const ascii = (this.ascii[id] ??= asciiText(piece));
    if (ascii !== false && this.held === undefined) return ascii;
    const bytes = this.held === undefined ? piece : concatBytes([this.held, piece]);
    const cut = unfinishedTail(bytes);
    this.held = cut < bytes.length ? bytes.slice(cut) : undefined;
    return cut === 0 ? '' : this.fresh(decodeUtf8(cut === bytes.length ? bytes : bytes.subarray(0, cut)));
  }

  /** `text` without the prompt's U+FFFD (see `promptPending`), for the first text out after priming. */
  private fresh(text: string): string {
    if (!this.promptPending || text === '') return text;
    this.promptPending = false;
    return text.charCodeAt(0) === 0xfffd ? text.slice(1) : text;
  }

  /** Whether nothing is held after this id, whatever came before it. */
  private endsClean(id: number): boolean {
    const piece = this.piece(id);
    // A special token (null) or a piece without bytes leaves what came before it held.
    if (piece === null) return false;
    return typeof piece === 'string' || (piece.length > 0 && (this.ascii[id] ??= asciiText(piece)) !== false);
  }

  /** The held bytes as text (an unfinished character decodes as one U+FFFD, unless it is the prompt's). */
  flush(): string {
    const held = this.held;
    this.held = undefined;
    const text = held === undefined ? '' : this.fresh(decodeUtf8(held));
    this.promptPending = false;
    return text;
  }
}

/**
 * Where the unfinished character at the end of `bytes` starts, or `bytes.length` when there is
 * none: a lead byte followed by fewer continuation bytes than it needs, each in the range the
 * UTF-8 decoding algorithm of the Encoding Standard accepts there. A streaming decoder holds
 * exactly those bytes back; anything else it decodes (or replaces with U+FFFD) at once.
 */
export function unfinishedTail(bytes: Uint8Array): number {
  const n = bytes.length;
  for (let back = 1; back <= 3 && back <= n; back++) {
    const b = bytes[n - back]!;
    if (b < 0x80) return n;
    if (b < 0xc0) continue; // a continuation byte: its lead, if any, is further back
    if (b < 0xc2 || b > 0xf4) return n; // never starts a character
    const length = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
    if (back >= length) return n; // complete
    if (back >= 2) {
      // The second byte's range depends on the lead (no overlongs, surrogates or code points past U+10FFFF).
      const second = bytes[n - back + 1]!;
      const low = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80;
      const high = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf;
      if (second < low || second > high) return n;
    }
    return n - back;
  }
  return n;
}

/** One decoder for every stream: each call decodes a whole run (no `stream` state). */
let utf8: TextDecoder | undefined;

function decodeUtf8(bytes: Uint8Array): string {
  // ignoreBOM: a U+FEFF the model writes is text, as in the tokenizer's own decode.
  return (utf8 ??= new TextDecoder('utf-8', { ignoreBOM: true })).decode(bytes);
}

function asciiText(bytes: Uint8Array): string | false {
  let text = '';
  for (const b of bytes) {
    if (b >= 0x80) return false;
    text += String.fromCharCode(b);
  }
  return text;
}
