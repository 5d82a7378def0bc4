/**
 * What a tokenizer.json regex (Oniguruma syntax) is like, read from its source without running it:
 * the fewest characters a match can have, and whether it nests repetitions (`(\w+\s?)+`), the
 * usual cause of exponential backtracking. JavaScript's regex engine backtracks, and
 * `@huggingface/tokenizers` runs these patterns on the main thread, so one such pattern can hold
 * the process at full CPU on a short text, out of reach of any abort signal, timeout or Ctrl-C.
 */
export interface RegexShape {
  /** The fewest characters a match can have, erring low: anchors, lookarounds and back-references count 0, every other atom 1. */
  readonly minLength: number;
  /**
   * The first nested repetition, as written (`(\w+\s?)+`): an unbounded repetition (`*`, `+`,
   * `{n,}`) of something that holds a repetition whose count varies (`(?:a{1,3})+`, `(?:aa?)+`),
   * or a repetition of up to 2 or more of something that holds an unbounded one (`(a+){1,5}`).
   * Undefined when there is none.
   */
  readonly nestedRepetition: string | undefined;
}

/** What one atom, sequence or group of the pattern is like. */
interface Part {
  readonly min: number;
  /** It holds an unbounded repetition (`*`, `+`, `{n,}`). */
  readonly repeats: boolean;
  /** It holds a repetition whose count varies (`?`, `{1,3}`, and every unbounded one). */
  readonly varies: boolean;
}

const EMPTY: Part = { min: 0, repeats: false, varies: false };
const ONE: Part = { min: 1, repeats: false, varies: false };

/** The {@link RegexShape} of `source`, or undefined when it does not parse. */
export function regexShape(source: string): RegexShape | undefined {
  let at = 0;
  let nested: string | undefined;
  const peek = (offset = 0): string | undefined => source[at + offset];

  function alternation(): Part {
    let { min, repeats, varies } = sequence();
    while (peek() === '|') {
      at++;
      const next = sequence();
      min = Math.min(min, next.min);
      repeats ||= next.repeats;
      varies ||= next.varies;
    }
    return { min, repeats, varies };
  }

  function sequence(): Part {
    let min = 0;
    let repeats = false;
    let varies = false;
    while (at < source.length && peek() !== '|' && peek() !== ')') {
      const from = at;
      const part = quantified(atom(), from);
      min += part.min;
      repeats ||= part.repeats;
      varies ||= part.varies;
    }
    return { min, repeats, varies };
  }

  /** `part` (written from `from`) with the quantifiers that follow it. */
  function quantified(part: Part, from: number): Part {
    let { min, repeats, varies } = part;
    for (;;) {
      const c = peek();
      let least: number;
      let most: number;
      if (c === '*' || c === '?' || c === '+') {
        at++;
        least = c === '+' ? 1 : 0;
        most = c === '?' ? 1 : Number.POSITIVE_INFINITY;
        // Lazy (`?`) or possessive (`+`): neither changes the length nor, in JavaScript, which has
        // no possessive quantifiers, the backtracking.
        if (peek() === '?' || peek() === '+') at++;
      } else if (c === '{') {
        const bounds = /^\{(\d*)(?:,(\d*))?\}/.exec(source.slice(at));
        // `{}`, `{,}` and the like are literal text.
        if (!bounds || (bounds[1] === '' && !bounds[2])) return { min, repeats, varies };
        at += bounds[0].length;
        least = bounds[1] === '' ? 0 : Number(bounds[1]);
        most = bounds[2] === undefined ? least : bounds[2] === '' ? Number.POSITIVE_INFINITY : Number(bounds[2]);
        // Only a lazy mark: Oniguruma reads `X{n,m}+` as `(?:X{n,m})+`, a further repetition.
        if (peek() === '?') at++;
      } else {
        return { min, repeats, varies };
      }
      // Unbounded repetition of something whose length varies, or repetition of an unbounded one.
      if ((most === Number.POSITIVE_INFINITY && varies) || (most >= 2 && repeats)) nested ??= source.slice(from, at);
      min *= least;
      repeats ||= most === Number.POSITIVE_INFINITY;
      varies ||= least !== most;
    }
  }

  function atom(): Part {
    const c = peek()!;
    if (c === '(') return group();
    if (c === '[') {
      skipClass();
      return ONE;
    }
    if (c === '\\') return escape();
    at += c.length;
    if (c === '^' || c === '$') return EMPTY;
    // One character (a surrogate pair as one).
    const code = source.charCodeAt(at - 1);
    if (code >= 0xd800 && code <= 0xdbff && at < source.length) at++;
    return ONE;
  }

  function group(): Part {
    at++; // (
    let zeroWidth = false;
    if (peek() === '?') {
      at++;
      const rest = source.slice(at);
      if (/^(?:[=!]|<[=!])/.test(rest)) {
        zeroWidth = true;
        at += rest[0] === '<' ? 2 : 1;
      } else if (rest[0] === '#') {
        const close = source.indexOf(')', at);
        at = close < 0 ? source.length : close + 1;
        return EMPTY;
      } else {
        // Named groups (`?<n>`, `?P<n>`, `?'n'`), atomic `?>`, non-capturing `?:`, inline flags `?i)` / `?i:`.
        const head = /^(?:P?<[^>]*>|'[^']*'|>|:|[a-zA-Z-]*:|[a-zA-Z-]*(?=\)))/.exec(rest);
        at += head ? head[0].length : 0;
      }
    }
    const inner = alternation();
    if (peek() === ')') at++;
    else throw new SyntaxError('unclosed group');
    return zeroWidth ? { ...inner, min: 0 } : inner;
  }

  function skipClass(): void {
    at++; // [
    if (peek() === '^') at++;
    if (peek() === ']') at++;
    while (at < source.length && peek() !== ']') {
      if (peek() === '\\') at += 2;
      else if (peek() === '[') skipClass();
      else at++;
    }
    if (peek() !== ']') throw new SyntaxError('unclosed class');
    at++;
  }

  function escape(): Part {
    at++; // backslash
    const c = peek();
    if (c === undefined) throw new SyntaxError('trailing backslash');
    at++;
    if ('bBAzZGK'.includes(c)) return EMPTY;
    if (/[1-9]/.test(c)) {
      while (/\d/.test(peek() ?? '')) at++;
      return EMPTY; // a back-reference may copy an empty group
    }
    if ((c === 'k' || c === 'g') && (peek() === '<' || peek() === "'")) {
      const close = source.indexOf(peek() === '<' ? '>' : "'", at + 1);
      at = close < 0 ? source.length : close + 1;
      return EMPTY; // a back-reference or subroutine call may match nothing
    }
    if ('pPxuN'.includes(c) && peek() === '{') {
      const close = source.indexOf('}', at);
      at = close < 0 ? source.length : close + 1;
      return ONE;
    }
    if (c === 'x') at += /^[\da-fA-F]{0,2}/.exec(source.slice(at))![0].length;
    else if (c === 'u') at += /^[\da-fA-F]{0,4}/.exec(source.slice(at))![0].length;
    else if (c === '0') at += /^[0-7]{0,2}/.exec(source.slice(at))![0].length;
    else if (c === 'c') at++;
    else if (c === 'Q') {
      const close = source.indexOf('\\E', at);
      const quoted = source.slice(at, close < 0 ? source.length : close);
      at = close < 0 ? source.length : close + 2;
      return { min: [...quoted].length, repeats: false, varies: false };
    } else if (c >= '\ud800' && c <= '\udbff') at++;
    return ONE;
  }

  try {
    const { min } = alternation();
    return at === source.length ? { minLength: min, nestedRepetition: nested } : undefined;
  } catch {
    return undefined;
  }
}
