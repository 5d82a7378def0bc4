/**
 * Hugging Face's `clean_up_tokenization_spaces` (on unless tokenizer_config.json turns it off; Llama
 * 3 turns it on), which removes the space before punctuation and contractions in decoded text, and
 * what a stream needs to apply it to text that arrives piece by piece.
 */

/** The rewrites, in the order @huggingface/tokenizers applies them to the whole text. */
const REWRITES: readonly (readonly [RegExp, string])[] = [
  [/ \./g, '.'], [/ \?/g, '?'], [/ !/g, '!'], [/ ,/g, ','], [/ ' /g, "'"],
  [/ n't/g, "n't"], [/ 'm/g, "'m"], [/ 's/g, "'s"], [/ 've/g, "'ve"], [/ 're/g, "'re"],
];

/**
 * Text from a space to the next (a segment) that more text may still turn into a rewrite: a proper
 * start of one (" n" of " n't"), " '" (the first half of " ' "), or the start of what follows a
 * " ' " in a chain (" v" of "  ' ve", rewritten to " 've").
 */
const OPEN: ReadonlySet<string> = new Set([' ', ' n', " n'", " '", " 'v", " 'r", ' v', ' r']);
/**
 * Segments that make a rewrite with the segment after them: " '" (" ' "), and " " or " n" before
 * a " '" (" ' " → "'" turns " n ' t" into " n't" and "  ' m" into " 'm", rewritten again).
 */
const JOINING: ReadonlySet<string> = new Set([" '", ' ', ' n']);

/** `text` cleaned up exactly as the library's decode does it. */
export function cleanUpSpaces(text: string): string {
  for (const [pattern, replacement] of REWRITES) text = text.replace(pattern, replacement);
  return text;
}

/** Text of the caller's to put into a text at `offset` (before the character there), such as a stop matcher's sentinel. */
export interface TextMarker {
  readonly offset: number;
  readonly marker: string;
}

/**
 * `cleanUpSpaces(text)` with each marker (in order of offset) put where its place in `text` ends
 * up: after every character before it that the clean-up keeps. The clean-up only removes spaces,
 * so a marker next to a removed space simply loses it as a neighbour (" " + marker + "." cleans up
 * to marker + "."). Tracks where each character came from, so only for text that holds markers.
 */
export function cleanUpSpacesAround(text: string, markers: readonly TextMarker[]): string {
  let cleaned = text;
  // The offset in `text` of each character of `cleaned`.
  let origins = Array.from({ length: text.length }, (_, i) => i);
  for (const [pattern, replacement] of REWRITES) {
    let next = '';
    const nextOrigins: number[] = [];
    let from = 0;
    for (const match of cleaned.matchAll(pattern)) {
      // Every rewrite drops the space that starts its match and keeps the characters after it that
      // make up the replacement (" ' " → "'": the space after the apostrophe goes too).
      const at = match.index;
      next += cleaned.slice(from, at) + replacement;
      for (let i = from; i < at; i++) nextOrigins.push(origins[i]!);
      for (let i = at + 1; i <= at + replacement.length; i++) nextOrigins.push(origins[i]!);
      from = at + match[0].length;
    }
    if (from === 0) continue; // no match
    next += cleaned.slice(from);
    for (let i = from; i < cleaned.length; i++) nextOrigins.push(origins[i]!);
    cleaned = next;
    origins = nextOrigins;
  }
  let out = '';
  let taken = 0;
  for (const { offset, marker } of markers) {
    let end = taken;
    while (end < origins.length && origins[end]! < offset) end++;
    out += cleaned.slice(taken, end) + marker;
    taken = end;
  }
  return out + cleaned.slice(taken);
}

/**
 * How much of `raw` (decoded text not cleaned up yet) is settled: cleaning up `raw.slice(0, n)` and
 * whatever follows it separately gives the clean-up of the whole, whatever follows. Every rewrite
 * starts at a space and spans at most three segments (text from a space to the next), so the cut
 * is at a segment's start: before the last segment when more text may still make it part of a
 * rewrite, then before each segment that joins the one after it.
 *
 * The walk back stops inside a run of spaces, between two spaces of which the second is followed
 * by a third: no rewrite contains two spaces in a row, and whatever follows can delete at most
 * the last space of the run (" " + " ' m" → " 'm" → "'m"), never the one after the cut. A stream of
 * spaces therefore holds back two of them, not the whole run, and costs constant work per piece.
 */
export function settledLength(raw: string): number {
  const last = raw.lastIndexOf(' ');
  if (last < 0 || !OPEN.has(raw.slice(last))) return raw.length;
  let cut = last;
  while (cut > 0 && !(raw.charCodeAt(cut - 1) === SPACE && raw.charCodeAt(cut + 1) === SPACE)) {
    const before = raw.lastIndexOf(' ', cut - 1);
    if (before < 0 || !JOINING.has(raw.slice(before, cut))) break;
    cut = before;
  }
  return cut;
}

const SPACE = 0x20;

/** Tokenizers whose `decode` cleans up spaces, with their decode without the clean-up. */
const uncleaned = new WeakMap<object, (ids: readonly number[]) => string>();

/** Records that `tokenizer` cleans up spaces after `decodeUncleaned`, for incremental detokenizing. */
export function registerCleanUp(tokenizer: object, decodeUncleaned: (ids: readonly number[]) => string): void {
  uncleaned.set(tokenizer, decodeUncleaned);
}

/** The decode without clean-up of a tokenizer whose decode cleans up spaces; undefined for any other. */
export function decodeWithoutCleanUp(tokenizer: object): ((ids: readonly number[]) => string) | undefined {
  return uncleaned.get(tokenizer);
}
