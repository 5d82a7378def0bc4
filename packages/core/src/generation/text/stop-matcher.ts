/**
 * Finds stop strings in streamed text, across token boundaries. Text that might be the start of a
 * stop string is held back until it is known not to be; a matched stop string is never emitted.
 *
 * The stream ends at the first stop string to be completed: the occurrence that ends first in the
 * text (of those ending at the same character, the longest). That depends only on the text, not
 * on how it was cut into pieces: with stops `["abcd", "bc"]`, "xabcd" ends after "xa" whether it
 * comes in one piece or character by character.
 */
export class StopMatcher {
  private pending = '';

  constructor(private readonly stops: readonly string[]) {}

  /** Adds text; returns what may be emitted and whether a stop string was reached. */
  push(text: string): { readonly emit: string; readonly stopped: boolean } {
    // Nothing new: no stop string can have completed, and what is held stays held.
    if (this.stops.length === 0 || text === '') return { emit: text, stopped: false };
    const pending = this.pending + text;
    // Each stop's first occurrence is also its earliest-ending one; the held text holds no
    // complete stop, so every occurrence ends in the new text.
    let cut = -1;
    let end = Infinity;
    for (const stop of this.stops) {
      const at = pending.indexOf(stop);
      if (at < 0) continue;
      const stopEnd = at + stop.length;
      if (stopEnd < end || (stopEnd === end && at < cut)) {
        end = stopEnd;
        cut = at;
      }
    }
    if (cut >= 0) {
      this.pending = '';
      return { emit: pending.slice(0, cut), stopped: true };
    }
    const keep = pending.length - heldSuffixLength(pending, this.stops);
    this.pending = pending.slice(keep);
    return { emit: pending.slice(0, keep), stopped: false };
  }

  /** Text held back at the end of the stream (no stop string completed). */
  flush(): string {
    const rest = this.pending;
    this.pending = '';
    return rest;
  }
}

/**
 * Longest suffix of `text` that is a proper prefix of some stop string. Compares characters in
 * place (no substrings): a candidate length is tried only where the text's last character is the
 * stop's character at that length.
 */
function heldSuffixLength(text: string, stops: readonly string[]): number {
  const length = text.length;
  const last = text.charCodeAt(length - 1);
  let best = 0;
  for (const stop of stops) {
    for (let n = Math.min(stop.length - 1, length); n > best; n--) {
      if (stop.charCodeAt(n - 1) !== last) continue;
      let i = n - 2;
      const from = length - n;
      while (i >= 0 && stop.charCodeAt(i) === text.charCodeAt(from + i)) i--;
      if (i < 0) {
        best = n;
        break;
      }
    }
  }
  return best;
}
