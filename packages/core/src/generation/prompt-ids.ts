import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import type { GenerationRequest } from '../spec/request.js';
import { quoteValue } from '../util/describe-cause.js';
import { checkKnownKeys } from '../util/known-keys.js';
import type { ChatMessage, Tokenizer } from '../spec/tokenizer.js';

/** Every field of a `GenerationRequest` (a record, so the compiler checks none is missing). */
const REQUEST_FIELDS: Record<keyof GenerationRequest, true> = {
  prompt: true, messages: true, inputIds: true, maxTokens: true, temperature: true, topK: true, topP: true, minP: true,
  repetitionPenalty: true, seed: true, ignoreEos: true, stop: true, signal: true, kv: true, router: true, processors: true,
  analyzers: true, sampler: true, metrics: true,
};
const REQUEST_KEYS: readonly string[] = Object.keys(REQUEST_FIELDS);

/**
 * Turns `prompt`, `messages` or `inputIds` into one id list per batch row. `prompt` applies the
 * tokenizer's special-token rules; chat prompts are encoded without adding specials when the
 * template already writes the BOS token; `inputIds` are used exactly as given.
 */
export function promptIds(request: GenerationRequest, tokenizer: Tokenizer, vocabSize: number): number[][] {
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    throw new InvalidOptionsError(`generate takes a request object such as { prompt: 'Once upon a time' } (got ${quoteValue(request)}).`, { option: 'request' });
  }
  // First: a misspelled option (`max_tokens`) would otherwise be ignored without a word.
  checkKnownKeys(request, REQUEST_KEYS, 'the generation request', '');
  const hasPrompt = request.prompt !== undefined;
  const hasMessages = request.messages !== undefined;
  const hasIds = request.inputIds !== undefined;
  const given = (hasPrompt ? 1 : 0) + (hasMessages ? 1 : 0) + (hasIds ? 1 : 0);
  if (given !== 1) {
    const names = (['prompt', 'messages', 'inputIds'] as const).filter((k) => request[k] !== undefined);
    throw new InvalidOptionsError(`Give exactly one of prompt, messages or inputIds (got ${given === 0 ? 'none' : names.join(', ')}).`, {
      option: 'prompt',
    });
  }
  let rows: number[][];
  if (hasIds) rows = idRows(request.inputIds!, vocabSize);
  else if (hasPrompt) rows = promptRows(request.prompt!, tokenizer);
  else rows = chatRows(request.messages!, tokenizer);
  if (rows.length === 0) throw new InvalidOptionsError('The request has no prompts.', { option: 'prompt' });
  for (const row of rows) {
    if (row.length === 0) throw new InvalidOptionsError('A prompt encodes to zero tokens; give at least one token.', { option: 'prompt' });
  }
  return rows;
}

/** `inputIds` as given (one row or several), checked to be ids of the vocabulary, and copied. */
function idRows(ids: NonNullable<GenerationRequest['inputIds']>, vocabSize: number): number[][] {
  if (!isIdList(ids)) throw badIds(vocabSize);
  const nested = (ids.length > 0 && isIdList(ids[0]) ? ids : [ids]) as readonly (readonly number[])[];
  const rows: number[][] = [];
  for (const listed of nested) {
    if (!isIdList(listed)) throw badIds(vocabSize);
    // Typed arrays (e.g. Int32Array from another tokenizer) become plain lists.
    const row = Array.isArray(listed) ? listed : Array.from(listed as ArrayLike<number>);
    // Plain loops: this runs once per request, cold, on the path to the first token.
    for (let i = 0; i < row.length; i++) {
      const id = row[i]!;
      // An integer in [0, vocabSize): NaN, fractions, negatives and non-numbers all fail one of these.
      if (!(typeof id === 'number' && id >= 0 && id < vocabSize && Math.floor(id) === id)) throw badIds(vocabSize);
    }
    rows.push(row.slice());
  }
  return rows;
}

/** A plain array or a typed array of numbers (not a DataView). */
function isIdList(value: unknown): boolean {
  return Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView));
}

function badIds(vocabSize: number): InvalidOptionsError {
  return new InvalidOptionsError(`inputIds must be integers in [0, ${vocabSize}).`, { option: 'inputIds' });
}

function promptRows(prompt: NonNullable<GenerationRequest['prompt']>, tokenizer: Tokenizer): number[][] {
  const prompts = typeof prompt === 'string' ? [prompt] : Array.isArray(prompt) ? prompt : undefined;
  if (prompts === undefined || prompts.some((p) => typeof p !== 'string')) throw new InvalidOptionsError('prompt must be a string or an array of strings.', { option: 'prompt' });
  return prompts.map((p) => tokenizer.encode(p));
}

function chatRows(list: NonNullable<GenerationRequest['messages']>, tokenizer: Tokenizer): number[][] {
  if (!Array.isArray(list)) throw new InvalidOptionsError('messages must be a list of { role, content } objects with string fields.', { option: 'messages' });
  const conversations = (list.length > 0 && Array.isArray(list[0]) ? list : [list]) as readonly (readonly ChatMessage[])[];
  return conversations.map((messages) => {
    if (!Array.isArray(messages) || messages.some((m) => typeof m?.role !== 'string' || typeof m?.content !== 'string')) {
      throw new InvalidOptionsError('messages must be a list of { role, content } objects with string fields.', { option: 'messages' });
    }
    if (messages.length === 0) throw new InvalidOptionsError('messages must hold at least one { role, content } message.', { option: 'messages' });
    const text = tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
    return tokenizer.encode(text, { addSpecialTokens: !tokenizer.chatTemplateAddsBos });
  });
}
