/**
 * Finds stop strings in streamed text, across token boundaries. Text that might be the start of a
 * stop string is held back until it is known not to be; a matched stop string is never emitted.
 */
export class StopMatcher {
  private pending = '';

  constructor(private readonly stops: readonly string[]) {}

  /** Adds text; returns what may be emitted and whether a stop string was reached. */
  push(text: string): { readonly emit: string; readonly stopped: boolean } {
    if (this.stops.length === 0) return { emit: text, stopped: false };
    this.pending += text;
    let cut = -1;
    for (const stop of this.stops) {
      const at = this.pending.indexOf(stop);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      const emit = this.pending.slice(0, cut);
      this.pending = '';
      return { emit, stopped: true };
    }
    const hold = this.heldSuffixLength();
    const emit = this.pending.slice(0, this.pending.length - hold);
    this.pending = this.pending.slice(this.pending.length - hold);
    return { emit, stopped: false };
  }

  /** Text held back at the end of the stream (no stop string completed). */
  flush(): string {
    const rest = this.pending;
    this.pending = '';
    return rest;
  }

  /** Longest suffix of the pending text that is a proper prefix of some stop string. */
  private heldSuffixLength(): number {
    let best = 0;
    for (const stop of this.stops) {
      for (let n = Math.min(stop.length - 1, this.pending.length); n > best; n--) {
        if (this.pending.endsWith(stop.slice(0, n))) {
          best = n;
          break;
        }
      }
    }
    return best;
  }
}
