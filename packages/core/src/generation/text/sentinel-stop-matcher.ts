import { StopMatcher } from './stop-matcher.js';

/**
 * Stop matching for stop strings that hold sentinels standing for special tokens' content (see
 * `stopPlan`): the row pushes a token's sentinel where the token comes, and every sentinel is
 * removed from what the matcher emits or flushes.
 *
 * A sentinel is two high surrogates: `mark`, then one of the token's own, neither of them in any
 * stop string. Decoded text is well-formed (each high surrogate has its low one right after it), so
 * `mark` followed by a high surrogate is always a sentinel: text can neither match a sentinel nor
 * lose a character's half to removal. A single unit would not do: a lone low
 * surrogate can be the second half of a character in the text (U+DC00 ends 🐀), which a stop
 * starting with the sentinel would match, and a possible start of a stop held back at that half
 * would cut the character in two. The matcher cuts only where a stop starts, and no stop starts
 * with a sentinel's second unit, so neither a character nor a sentinel is ever cut.
 *
 * It wraps a plain `StopMatcher` rather than extending it, so the matcher's own code only ever
 * sees one class, as it does for requests without such stops.
 */
export class SentinelStopMatcher {
  private readonly matcher: StopMatcher;

  constructor(
    stops: readonly string[],
    /** The first unit of every sentinel. */
    private readonly mark: string,
  ) {
    this.matcher = new StopMatcher(stops);
  }

  /** As `StopMatcher.push`, with sentinels removed from what it emits. */
  push(text: string): { readonly emit: string; readonly stopped: boolean } {
    const result = this.matcher.push(text);
    if (result.emit.indexOf(this.mark) < 0) return result;
    return { emit: withoutSentinels(result.emit, this.mark), stopped: result.stopped };
  }

  /** As `StopMatcher.flush`, without sentinels. */
  flush(): string {
    return withoutSentinels(this.matcher.flush(), this.mark);
  }
}

/** `text` without its sentinels: each `mark` followed by a high surrogate, both units removed. */
export function withoutSentinels(text: string, mark: string): string {
  let at = text.indexOf(mark);
  if (at < 0) return text;
  let out = '';
  let from = 0;
  for (; at >= 0; at = text.indexOf(mark, at + 1)) {
    const next = text.charCodeAt(at + 1);
    // Followed by its low half: `mark` is the first half of a character in the text.
    if (!(next >= 0xd800 && next <= 0xdbff)) continue;
    out += text.slice(from, at);
    from = at + 2;
    at++;
  }
  return out + text.slice(from);
}
