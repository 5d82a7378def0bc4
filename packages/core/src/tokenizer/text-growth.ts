import { regexShape } from './regex-shape.js';

/**
 * How much a tokenizer.json's normalizer, pre-tokenizer or decoder can lengthen a text at worst.
 * `@huggingface/tokenizers` runs each `Replace` step as `text.replaceAll(pattern, content)`, so a
 * `Sequence` of steps that each double some character (`"e"` → `"ee"`) grows a text 2^N times:
 * 26 such steps run the process out of memory on a five-letter probe, a fatal V8 error no caller
 * can catch. These functions bound that growth from the JSON alone, before the library sees it.
 */

/** Parts of tokenizer.json that rewrite text, with the key under which their `Sequence` lists its steps. */
export const GROWING_PARTS = { normalizer: 'normalizers', pre_tokenizer: 'pretokenizers', decoder: 'decoders' } as const;

/** A part of tokenizer.json whose growth is bounded: `normalizer`, `pre_tokenizer` or `decoder`. */
export type GrowingPart = keyof typeof GROWING_PARTS;

/** Deeper than any real tokenizer nests its Sequences (they use one level): past it, growth counts as unbounded. */
export const MAX_NESTING = 32;

/**
 * The factor by which `step` (a normalizer, pre-tokenizer or decoder of tokenizer.json, of the
 * kind `part`) can lengthen a text at worst: 1 for steps that do not grow it (or grow it by a
 * fixed amount, such as `Prepend`), the product of a `Sequence`'s steps, and Infinity for steps
 * whose growth has no bound (a pattern that can match an empty string, replaced by something).
 */
export function worstGrowth(step: unknown, part: GrowingPart, depth = 0): number {
  if (typeof step !== 'object' || step === null || Array.isArray(step)) return 1;
  if (depth > MAX_NESTING) return Number.POSITIVE_INFINITY;
  const config = step as Record<string, unknown>;
  switch (config['type']) {
    case 'Sequence': {
      const steps = config[GROWING_PARTS[part]];
      if (!Array.isArray(steps)) return 1;
      let product = 1;
      // Whether an earlier step writes text a Unicode normalization would lengthen.
      let normalizable = false;
      for (const inner of steps) {
        product *= isNormalizationForm(inner) ? (normalizable ? NORMALIZATION_GROWTH : 1) : worstGrowth(inner, part, depth + 1);
        if (product === Number.POSITIVE_INFINITY) break;
        normalizable ||= writesNormalizable(inner, part, depth + 1);
      }
      return product;
    }
    case 'ByteLevel':
      // Each UTF-16 unit of a character outside ASCII becomes two to four byte characters
      // (three for one unit); the decoder turns them back.
      return part === 'decoder' ? 1 : 3;
    case 'BertNormalizer':
      // Spaces around each CJK character: "中" becomes " 中 ".
      return config['handle_chinese_chars'] === false ? 1 : 3;
    case 'Replace':
      return replaceGrowth(config['pattern'], config['content']);
    case 'Metaspace':
      // The pre-tokenizer writes its replacement for each space; the decoder writes a space for
      // each replacement, which an empty one matches between every two characters.
      if (part === 'pre_tokenizer') return Math.max(1, codePoints(textOf(config['str_rep'] ?? '') || textOf(config['replacement'] ?? '\u2581')));
      if (part === 'decoder') return textOf(config['replacement'] ?? '\u2581') === '' ? EMPTY_MATCH_GROWTH : 1;
      return 1;
    case 'BPEDecoder':
      return part === 'decoder' && textOf(config['suffix'] ?? '') === '' ? EMPTY_MATCH_GROWTH : 1;
    default:
      return 1;
  }
}

/**
 * The most one code point lengthens under NFKC or NFKD (U+FDFA becomes 18 characters). A form
 * (or `Precompiled`, a sentencepiece normalization table) applied to text as it comes lengthens
 * it by a bounded amount once; applied again it changes nothing, unless a step between writes
 * text it expands again, which is what this factor is counted for.
 */
const NORMALIZATION_GROWTH = 18;

function isNormalizationForm(step: unknown): boolean {
  const type = typeof step === 'object' && step !== null ? (step as Record<string, unknown>)['type'] : undefined;
  return type === 'NFC' || type === 'NFD' || type === 'NFKC' || type === 'NFKD' || type === 'Precompiled';
}

/** Whether `step` writes text of its own (a `Replace` content, a `Prepend`, a `Metaspace` replacement) that a Unicode normalization changes. */
function writesNormalizable(step: unknown, part: GrowingPart, depth: number): boolean {
  if (typeof step !== 'object' || step === null || depth > MAX_NESTING) return false;
  const config = step as Record<string, unknown>;
  const changes = (value: unknown): boolean => {
    const text = textOf(value ?? '');
    return text.normalize('NFKD') !== text || text.normalize('NFKC') !== text;
  };
  switch (config['type']) {
    case 'Sequence': {
      const steps = config[GROWING_PARTS[part]];
      return Array.isArray(steps) && steps.some((inner) => writesNormalizable(inner, part, depth + 1));
    }
    case 'Replace':
      return changes(config['content']);
    case 'Prepend':
      return changes(config['prepend']);
    case 'Metaspace':
      return changes(config['replacement']) || changes(config['str_rep']);
    default:
      return false;
  }
}

/**
 * `"abc".replaceAll("", " ")` is `" a b c "`: 2n + 1 characters from n, at most 3 times as many
 * (a one-character replacement matched between every two characters).
 */
const EMPTY_MATCH_GROWTH = 3;

/**
 * The growth of one `Replace` step: each match of `pattern` (at least its shortest match long)
 * becomes `content`, where JavaScript's replacement patterns count too: `$&` and group references
 * copy (at most) the match, and `` $` `` / `$'` copy the whole text before / after it.
 */
function replaceGrowth(pattern: unknown, content: unknown): number {
  if (typeof pattern !== 'object' || pattern === null) return 1; // the library ignores the step
  const { String: literal, Regex: regex } = pattern as { String?: unknown; Regex?: unknown };
  let shortest: number;
  if (regex !== undefined) shortest = regexMinLength(textOf(regex));
  else if (literal !== undefined) shortest = codePoints(textOf(literal));
  else return 1;
  const replacement = replacementSize(textOf(content ?? ''));
  if (!replacement.unbounded && replacement.copies === 0 && replacement.literal === 0) return 1; // deletes what it matches
  if (replacement.unbounded || shortest === 0) return Number.POSITIVE_INFINITY;
  return Math.max(1, replacement.copies + replacement.literal / shortest);
}

/** What a `String.prototype.replaceAll` replacement string writes per match: literal characters, copies of the match, or the text around it. */
function replacementSize(content: string): { literal: number; copies: number; unbounded: boolean } {
  let literal = 0;
  let copies = 0;
  let unbounded = false;
  const chars = [...content];
  for (let i = 0; i < chars.length; i++) {
    if (chars[i] !== '$' || i + 1 >= chars.length) {
      literal++;
      continue;
    }
    const next = chars[i + 1]!;
    if (next === '$') {
      literal++;
      i++;
    } else if (next === '&') {
      copies++;
      i++;
    } else if (next === '`' || next === "'") {
      unbounded = true;
      i++;
    } else if (/\d|</.test(next)) {
      // A group reference, or the literal text when the group does not exist: count it as both.
      copies++;
      literal += 2;
      i++;
    } else {
      literal++;
    }
  }
  return { literal, copies, unbounded };
}

/**
 * The fewest characters a match of `source` (Oniguruma syntax, as tokenizer.json writes it) can
 * have, erring low ({@link regexShape}); 0 when the pattern does not parse.
 */
export function regexMinLength(source: string): number {
  return regexShape(source)?.minLength ?? 0;
}

/** A JSON value as the library would use it as text (`String(value)` for anything but a string). */
function textOf(value: unknown): string {
  return typeof value === 'string' ? value : String(value);
}

function codePoints(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}
