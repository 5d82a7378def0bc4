import { ModelLoadError } from '../errors/model-load-error.js';
import { quoteValue } from '../util/describe-cause.js';

/** A token id of tokenizer.json and where the file gives it, for messages. */
export interface TokenizerId {
  readonly id: number;
  /** E.g. `model.vocab["Ġthe"]`, `added_tokens[6] ("<|far|>")`. */
  readonly where: string;
  /** How many tokens the file defines (`model.vocab` and `added_tokens` entries with an id). */
  readonly defined: number;
}

/**
 * The largest id a Hugging Face `tokenizer.json` gives a token (`model.vocab`, `added_tokens`),
 * read from the parsed JSON without building the tokenizer: @huggingface/tokenizers walks every
 * id up to the largest while it builds one (2^31 took over a minute, with the event loop blocked),
 * so an id past the model's vocabulary is found before that. Undefined when the file gives no id
 * or has another shape (the tokenizer then says what is wrong with it). A `model.vocab` id that
 * is not a whole number >= 0 (0.5, "3", null) is a `ModelLoadError` naming `path` and the token:
 * text would encode to ids no graph can be fed.
 */
export function largestTokenizerId(json: unknown, path: string): TokenizerId | undefined {
  if (!isObject(json)) return undefined;
  let largest: { id: number; where: string } | undefined;
  const consider = (id: number, where: () => string): void => {
    if (largest === undefined || id > largest.id) largest = { id, where: where() };
  };
  const model = json['model'];
  const vocab = isObject(model) ? model['vocab'] : undefined;
  if (Array.isArray(vocab)) {
    // Unigram: a list of [piece, score] pairs, whose ids are their positions.
    if (vocab.length > 0) consider(vocab.length - 1, () => `the last of the ${vocab.length} pieces of model.vocab`);
  } else if (isObject(vocab)) {
    for (const token of Object.keys(vocab)) {
      const id = vocab[token];
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
        throw new ModelLoadError(`${path}: model.vocab[${quoteValue(token, 40)}] is ${quoteValue(id)}, not a token id (a whole number >= 0).`, { path });
      }
      consider(id, () => `model.vocab[${quoteValue(token, 40)}]`);
    }
  }
  const added = json['added_tokens'];
  let defined = Array.isArray(vocab) ? vocab.length : isObject(vocab) ? Object.keys(vocab).length : 0;
  if (Array.isArray(added)) {
    added.forEach((token: unknown, i) => {
      // Entries of the wrong shape are the tokenizer's to report (it names the field).
      const id = isObject(token) ? token['id'] : undefined;
      if (typeof id !== 'number' || !Number.isInteger(id)) return;
      defined++;
      const content = isObject(token) && typeof token['content'] === 'string' ? ` (${quoteValue(token['content'], 40)})` : '';
      consider(id, () => `added_tokens[${i}]${content}`);
    });
  }
  return largest === undefined ? undefined : { ...largest, defined };
}

/** How far the largest id may lie past the number of tokens a tokenizer.json defines (2^20). */
const MAX_ID_GAP = 2 ** 20;

/**
 * The error for a largest id far past the number of tokens the file defines (undefined when it is
 * not): building the tokenizer walks every id up to the largest, so a `vocab_size` as large as
 * that id would not stop a lone far id from blocking the load for minutes. Real vocabularies are
 * dense.
 */
export function tokenizerIdFarOut(largest: TokenizerId, path: string): ModelLoadError | undefined {
  if (largest.id - largest.defined < MAX_ID_GAP) return undefined;
  return new ModelLoadError(
    `${path} gives ${largest.where} the id ${largest.id} but defines only ${largest.defined} tokens: ids that far past the others mean a corrupt or hostile file (building it would walk all ${largest.id} ids); use the tokenizer.json that came with the model.`,
    { path },
  );
}

/** The error for a tokenizer whose ids go past the model's vocabulary (config.json's `vocab_size`). */
export function tokenizerPastVocabulary(largest: TokenizerId, vocabSize: number, path: string): ModelLoadError {
  return new ModelLoadError(
    `The tokenizer has ids up to ${largest.id}, but the model's vocabulary (vocab_size in config.json) has ${vocabSize}: the tokenizer does not belong to this model (${path} gives ${largest.where} the id ${largest.id}).`,
    { path },
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
