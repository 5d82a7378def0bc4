import { ModelLoadError } from '../errors/model-load-error.js';
import { requireJsonObject } from '../util/json-object.js';
import { quoteValue } from '../util/describe-cause.js';
import { GROWING_PARTS, worstGrowth, type GrowingPart } from './text-growth.js';

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
  for (const part of Object.keys(GROWING_PARTS) as GrowingPart[]) checkGrowth(tokenizer[part], part, path);
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
