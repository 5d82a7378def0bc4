import { ModelLoadError } from '../errors/model-load-error.js';
import { requireJsonObject } from '../util/json-object.js';
import { quoteValue } from '../util/describe-cause.js';
import { regexShape } from './regex-shape.js';
import { GROWING_PARTS, MAX_NESTING, worstGrowth, type GrowingPart } from './text-growth.js';

/**
 * Most a normalizer, pre-tokenizer or decoder may lengthen a text. Real ones stay at 1 (a
 * `Replace` of one character by one, as `▁` → space) up to a few times (Unicode forms, Metaspace);
 * a file whose steps could grow text further is refused, as a growth of 2^26 (26 steps doubling a
 * letter) runs the process out of memory on a five-letter text.
 */
export const MAX_TEXT_GROWTH = 64;

/** Model types whose `vocab` maps token strings to ids; `Unigram` lists `[piece, score]` pairs instead. */
const MAPPED_VOCAB_TYPES: readonly string[] = ['BPE', 'WordPiece', 'WordLevel'];

/**
 * Checks the parts of a parsed `tokenizer.json` that `@huggingface/tokenizers` would otherwise
 * trip over with an internal TypeError or accept silently (an empty vocabulary drops all text).
 * Returns the object to build from, with `added_tokens` defaulting to `[]` as in Hugging Face's
 * own loader; anything else wrong is a `ModelLoadError` naming the file at `path` and the field.
 */
export function checkTokenizerJson(json: unknown, path: string): Record<string, unknown> {
  const tokenizer = requireJsonObject(json, path);
  const model = tokenizer['model'];
  if (typeof model !== 'object' || model === null || Array.isArray(model)) {
    throw new ModelLoadError(`${path}: model must be an object with the tokenizer's type and vocab (got ${quoteValue(model)}).`, { path });
  }
  checkVocab(model as Record<string, unknown>, path);
  const added = tokenizer['added_tokens'] === undefined ? [] : tokenizer['added_tokens'];
  checkAddedTokens(added, path);
  for (const part of Object.keys(GROWING_PARTS) as GrowingPart[]) {
    checkPatterns(tokenizer[part], part, path);
    checkGrowth(tokenizer[part], part, path);
  }
  return { ...tokenizer, added_tokens: added };
}

/** A vocabulary of the shape its model type needs, and not empty. */
function checkVocab(model: Record<string, unknown>, path: string): void {
  const { type, vocab } = model;
  const isMap = typeof vocab === 'object' && vocab !== null && !Array.isArray(vocab);
  // Without a type, the library goes by the vocabulary's shape.
  const unigram = type === 'Unigram' || (type === undefined && Array.isArray(vocab));
  const mapped = (typeof type === 'string' && MAPPED_VOCAB_TYPES.includes(type)) || (type === undefined && isMap);
  if (!unigram && !mapped) return; // other layouts are the library's to judge
  if (unigram ? !Array.isArray(vocab) : !isMap) {
    const shape = unigram ? 'a list of [piece, score] pairs' : 'an object mapping tokens to ids';
    throw new ModelLoadError(`${path}: model.vocab must be ${shape} for a ${unigram ? 'Unigram' : String(type)} model (got ${quoteValue(vocab)}).`, { path });
  }
  if ((unigram ? (vocab as unknown[]).length : Object.keys(vocab as object).length) === 0) {
    throw new ModelLoadError(`${path}: model.vocab is empty, so every text would encode to nothing; use the model's complete tokenizer.json.`, { path });
  }
  if (type === 'BPE' && !Array.isArray(model['merges'])) {
    throw new ModelLoadError(`${path}: model.merges must be a list for a BPE model (got ${quoteValue(model['merges'])}).`, { path });
  }
}

/** `added_tokens`: a list of `{ id, content }` objects. */
function checkAddedTokens(added: unknown, path: string): void {
  if (!Array.isArray(added)) {
    throw new ModelLoadError(`${path}: added_tokens must be a list of { id, content } objects (got ${quoteValue(added)}).`, { path });
  }
  added.forEach((token: unknown, i) => {
    const t = token as { id?: unknown; content?: unknown } | null;
    if (typeof t !== 'object' || t === null || !Number.isInteger(t.id) || (t.id as number) < 0 || typeof t.content !== 'string') {
      throw new ModelLoadError(`${path}: added_tokens[${i}] must be an object with a whole-number id and a string content (got ${quoteValue(token)}).`, { path });
    }
  });
}

/** A normalizer, pre-tokenizer or decoder whose `Replace` steps (and the like) grow text at most {@link MAX_TEXT_GROWTH} times. */
function checkGrowth(step: unknown, part: GrowingPart, path: string): void {
  const growth = worstGrowth(step, part);
  if (growth <= MAX_TEXT_GROWTH) return;
  const how = Number.isFinite(growth)
    ? `${Number.isSafeInteger(growth) ? growth : growth.toPrecision(3)}×`
    : "without bound (a pattern that can match an empty string, or a $` or $' replacement)";
  throw new ModelLoadError(
    `${path}: ${part}: its steps (Replace, ByteLevel, Unicode normalization and the like) can grow text ${how} (limit ${MAX_TEXT_GROWTH}×), which would run the process out of memory; use the model's original tokenizer.json.`,
    { path },
  );
}

/**
 * The `Regex` patterns of a normalizer, pre-tokenizer or decoder (`Split`, `Replace`, in any
 * `Sequence`): each must compile, and must not nest repetitions ({@link regexShape}:
 * `(\w+\s?)+`, `(?:a{1,3})+`). JavaScript's engine backtracks, and encoding runs on the main
 * thread: such a pattern can take exponential time on a short text (a comma after a dozen words),
 * holding the process where no abort, timeout or Ctrl-C reaches it. Real tokenizers nest none.
 * Not found: overlapping alternatives under one repetition (`(a|ab)+c`), exponential too, and
 * overlapping repetitions side by side (`\s*\s*\s*x`, `.*.*=`), polynomial in the text's length.
 */
function checkPatterns(step: unknown, part: GrowingPart, path: string, depth = 0): void {
  if (typeof step !== 'object' || step === null || Array.isArray(step) || depth > MAX_NESTING) return; // deeper: the growth check refuses it
  const config = step as Record<string, unknown>;
  if (config['type'] === 'Sequence') {
    const steps = config[GROWING_PARTS[part]];
    if (Array.isArray(steps)) for (const inner of steps) checkPatterns(inner, part, path, depth + 1);
    return;
  }
  const pattern = config['pattern'];
  const source = typeof pattern === 'object' && pattern !== null ? (pattern as { Regex?: unknown }).Regex : undefined;
  if (typeof source !== 'string') return;
  const where = `${path}: ${part}: the ${typeof config['type'] === 'string' ? `${config['type']} ` : ''}pattern ${quoteValue(source, 120)}`;
  const shape = regexShape(source);
  if (shape === undefined) {
    // Not Oniguruma as this reads it; JavaScript's own parser says whether it is a pattern at all.
    try {
      new RegExp(source, 'u');
    } catch (error) {
      throw new ModelLoadError(`${where} does not compile (${(error as Error).message}); use the model's original tokenizer.json.`, { path });
    }
    return;
  }
  if (shape.nestedRepetition !== undefined) {
    throw new ModelLoadError(
      `${where} nests repetitions (${quoteValue(shape.nestedRepetition, 60)}): on some texts such a pattern backtracks for an exponential time, which would hang the process; rewrite it without nested repetition, or use the model's original tokenizer.json.`,
      { path },
    );
  }
}
