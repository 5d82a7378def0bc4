/**
 * The model's text on a terminal. A model (or a prompt it echoes) can produce characters a
 * terminal acts on instead of printing: ESC starts sequences that move the cursor, recolour or
 * clear the screen, retitle the window, write the clipboard (OSC 52) or hide a link target
 * (OSC 8); `\r` and backspace overwrite what was printed; BEL rings. C1 controls (U+0080–U+009F,
 * e.g. U+009B, a one-character CSI) do the same on terminals that honour them in UTF-8. Bidi
 * embeddings, overrides and isolates make a bidi-aware terminal show the text in another order
 * than it has (the "Trojan Source" trick). On a terminal each such character is shown as a visible
 * stand-in instead; pipes and files get the text byte for byte.
 */

/**
 * What {@link terminalSafe} replaces: C0 controls except `\t` and `\n`, DEL, C1 controls, and the
 * bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069). Each is one UTF-16 code
 * unit, so text split anywhere between code units is made safe piece by piece.
 */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * The stand-in for one unsafe character: its Unicode Control Picture for C0 controls and DEL
 * (U+2400 + code, e.g. ␛ for ESC, ␍ for `\r`, ␇ for BEL; ␡ for DEL), which takes one column, as
 * the control's place in the text, and names it; for the characters that have no picture (C1
 * controls, bidi controls), the escape JSON would write, e.g. `\u009b`.
 */
function standIn(char: string): string {
  const code = char.charCodeAt(0);
  if (code < 0x20) return String.fromCharCode(0x2400 + code);
  if (code === 0x7f) return '\u2421';
  return unicodeEscape(char);
}

/** `\u` and four lower-case hex digits, as `JSON.stringify` writes the controls it escapes. */
function unicodeEscape(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** `text` with every control character a terminal would act on replaced by a visible stand-in (see {@link standIn}). */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, standIn);
}

/** What {@link textWriter} writes to: a stream, and whether it is a terminal. */
export interface TextOutput {
  readonly isTTY?: boolean | undefined;
  write(chunk: string): unknown;
}

/**
 * Writes the model's text to `out` as it streams: made {@link terminalSafe} when `out` is a
 * terminal (`isTTY: true`) and `raw` is false; byte for byte otherwise (pipes, files, `--raw`).
 */
export function textWriter(out: TextOutput, raw: boolean): (text: string) => void {
  return raw || out.isTTY !== true ? (text) => void out.write(text) : (text) => void out.write(terminalSafe(text));
}

/**
 * Characters `JSON.stringify` leaves as they are that a terminal may act on: DEL, C1 controls
 * and the bidi controls above (it escapes C0 controls itself).
 */
const JSON_UNESCAPED = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * `value` as one JSON line (no newline) that is safe on a terminal too: as `JSON.stringify`
 * writes it, with DEL, C1 and bidi controls also written as `\u` escapes. These characters occur
 * only inside JSON strings, so the line parses to the same value.
 */
export function jsonLine(value: object): string {
  return JSON.stringify(value).replace(JSON_UNESCAPED, unicodeEscape);
}
