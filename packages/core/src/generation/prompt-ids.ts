import { ContextOverflowError } from '../errors/context-overflow-error.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import type { GenerationRequest } from '../spec/request.js';
import { quoteValue } from '../util/describe-cause.js';
import { isArray, peekList, readGuarded, readItem, readLength, readList, readRequest, type Peeked } from './read-request.js';
import { BATCH_BOUND, MAX_MESSAGE_EXTRAS, MESSAGES_BOUND, promptTooLong } from './request-limits.js';
import { chargePlainJson, copyPlainJson, MAX_PLAIN_JSON_DEPTH, plainJsonBudget, propertyPath, type PlainJsonBudget } from './plain-json.js';
import { leadingSpecialIds } from '../tokenizer/leading-special-ids.js';
import { MIN_TEMPLATE_ITEMS } from '../tokenizer/bounded-chat-template.js';
import type { ChatMessage, Tokenizer } from '../spec/tokenizer.js';

/** Every field of a `GenerationRequest` (a record, so the compiler checks none is missing). */
const REQUEST_FIELDS: Record<keyof GenerationRequest, true> = {
  prompt: true, messages: true, inputIds: true, maxTokens: true, minTokens: true, temperature: true, topK: true, topP: true, minP: true,
  repetitionPenalty: true, seed: true, ignoreEos: true, stop: true, signal: true, kv: true, router: true, processors: true,
  analyzers: true, sampler: true, metrics: true, promptCache: true,
};
const REQUEST_KEYS = Object.keys(REQUEST_FIELDS) as (keyof GenerationRequest)[];

/**
 * The request as the run reads it: each field read once into a plain object (see `readRequest`),
 * after checking that it is an object whose keys are all fields of a `GenerationRequest`.
 */
export function readGenerationRequest(request: unknown): GenerationRequest {
  return readRequest<GenerationRequest>(request, REQUEST_KEYS, 'the generation request', () =>
    new InvalidOptionsError(`generate takes a request object such as { prompt: 'Once upon a time' } (got ${quoteValue(request)}).`, { option: 'request' }),
  );
}

/**
 * Turns `prompt`, `messages` or `inputIds` into one id list per batch row. `prompt` applies the
 * tokenizer's special-token rules; chat prompts are encoded without adding specials when the
 * template already writes the BOS token; `inputIds` are used exactly as given. `request` is what
 * {@link readGenerationRequest} read; lists in it are read here, each item once.
 */
export function promptIds(request: GenerationRequest, tokenizer: Tokenizer, vocabSize: number, contextLength = Infinity): number[][] {
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
  if (hasIds) rows = idRows(request.inputIds!, vocabSize, contextLength);
  else if (hasPrompt) rows = promptRows(request.prompt!, tokenizer, contextLength);
  else rows = chatRows(request.messages!, tokenizer, contextLength);
  const option = hasIds ? 'inputIds' : hasPrompt ? 'prompt' : 'messages';
  if (rows.length === 0) throw new InvalidOptionsError(`The request has no prompts (${option} is an empty list).`, { option });
  for (const [r, row] of rows.entries()) {
    if (row.length > 0) continue;
    const which = rows.length > 1 ? ` (row ${r})` : '';
    throw new InvalidOptionsError(
      hasIds ? `inputIds${which} holds no ids; give at least one token id.` : `A prompt${which} encodes to zero tokens; give at least one token.`,
      { option },
    );
  }
  return rows;
}

/**
 * `inputIds` as given (one row or several), checked to be ids of the vocabulary, and copied: each
 * id read once. A row as long as the context is refused before its ids are read (the run would
 * refuse it anyway), so a huge or sparse array costs nothing.
 */
function idRows(ids: unknown, vocabSize: number, contextLength: number): number[][] {
  if (isTypedIds(ids)) return [idRow(ids, vocabSize, contextLength)];
  const peeked = peekList(ids, 'inputIds');
  if (peeked === undefined) throw badIds(vocabSize);
  // A list of lists (or of typed arrays) is a batch; the first item tells. Its length and first
  // item are read once, here, and not again.
  const { first } = peeked;
  if (isTypedIds(first) || isArray(first, 'inputIds')) return readList(ids, 'inputIds', BATCH_BOUND, (row) => idRow(row, vocabSize, contextLength), peeked)!;
  return [idRow(ids, vocabSize, contextLength, peeked)];
}

/** One row of ids: a plain array or a typed array of vocabulary ids, copied into a plain array. */
function idRow(row: unknown, vocabSize: number, contextLength: number, peeked?: Peeked): number[] {
  if (!(peeked !== undefined || isTypedIds(row) || isArray(row, 'inputIds'))) throw badIds(vocabSize);
  const list = row as ArrayLike<unknown>;
  const length = peeked?.length ?? readLength(list, 'inputIds');
  if (length >= contextLength) {
    throw new ContextOverflowError(promptTooLong(length, contextLength), { promptTokens: length, contextLength });
  }
  // Plain loops: this runs once per request, cold, on the path to the first token.
  const copy = new Array<number>(length);
  for (let i = 0; i < length; i++) {
    const id = i === 0 && peeked !== undefined ? peeked.first : readItem(list, i, 'inputIds');
    // An integer in [0, vocabSize): NaN, fractions, negatives, holes and non-numbers all fail one of these.
    if (!(typeof id === 'number' && id >= 0 && id < vocabSize && Math.floor(id) === id)) throw badIds(vocabSize);
    copy[i] = id;
  }
  return copy;
}

/** A typed array of numbers (e.g. Int32Array from another tokenizer; not a DataView). */
function isTypedIds(value: unknown): value is ArrayLike<unknown> {
  return ArrayBuffer.isView(value) && !(value instanceof DataView);
}

function badIds(vocabSize: number): InvalidOptionsError {
  return new InvalidOptionsError(`inputIds must be integers in [0, ${vocabSize}).`, { option: 'inputIds' });
}

function promptRows(prompt: unknown, tokenizer: Tokenizer, contextLength: number): number[][] {
  const badPrompt = (): InvalidOptionsError => new InvalidOptionsError('prompt must be a string or an array of strings.', { option: 'prompt' });
  // Every item read once and checked before any is encoded; a hole is not a string.
  const prompts = typeof prompt === 'string' ? [prompt] : readList(prompt, 'prompt', BATCH_BOUND, (p) => {
    if (typeof p !== 'string') throw badPrompt();
    return p;
  });
  if (prompts === undefined) throw badPrompt();
  return prompts.map((p) => {
    refuseCertainOverflow(p, tokenizer, contextLength);
    return tokenizer.encode(p);
  });
}

/** Prompts over this many characters per position of the context are counted in chunks first. */
const CHARS_PER_POSITION_CHECKED = 8;
/** Characters per chunk of that count (at least; a chunk ends before a space). */
const COUNT_CHUNK = 1 << 16;
/** Tokens a chunk's edges can add (a prefix space marker, a pair merged across the cut): taken off each chunk's count. */
const CHUNK_EDGE_SLACK = 8;

/**
 * Refuses a prompt far too long for the context without encoding all of it: encoding is
 * synchronous, and a 50 MB prompt took over a minute before the overflow was reported. Only
 * prompts longer than {@link CHARS_PER_POSITION_CHECKED} characters per position are counted: in
 * chunks cut before a space (where pre-tokenizers split anyway), each counting its tokens less
 * {@link CHUNK_EDGE_SLACK}, so the sum never exceeds the whole prompt's count. Once the sum
 * reaches the context it is a `ContextOverflowError`; a prompt that may still fit is encoded whole.
 */
function refuseCertainOverflow(text: string, tokenizer: Tokenizer, contextLength: number): void {
  if (!(text.length > contextLength * CHARS_PER_POSITION_CHECKED)) return;
  const atLeast = tokensAtLeast(text, tokenizer, contextLength);
  if (atLeast >= contextLength) {
    throw new ContextOverflowError(
      `The prompt has at least ${atLeast} tokens (${text.length} characters) but the model's context is ${contextLength}; shorten the prompt.`,
      { promptTokens: atLeast, contextLength },
    );
  }
}

/**
 * A lower bound of the number of tokens `text` encodes to (special tokens aside), counted chunk by
 * chunk until it reaches `stopAt`: for refusing a text far too long for a context without
 * encoding all of it (encoding is synchronous; 50 MB took over a minute). The chunks end before a
 * space, where pre-tokenizers split anyway, and each counts its tokens less a few for what its
 * edges may add, so the bound never exceeds the whole text's count.
 */
export function tokensAtLeast(text: string, tokenizer: Tokenizer, stopAt = Infinity): number {
  let atLeast = 0;
  for (let start = 0; start < text.length && atLeast < stopAt; ) {
    let end = Math.min(text.length, start + COUNT_CHUNK);
    if (end < text.length) {
      const space = text.lastIndexOf(' ', end);
      if (space > start) end = space;
    }
    atLeast += Math.max(0, tokenizer.encode(text.slice(start, end), { addSpecialTokens: false }).length - CHUNK_EDGE_SLACK);
    start = end;
  }
  return atLeast;
}

function chatRows(list: unknown, tokenizer: Tokenizer, contextLength: number): number[][] {
  const peeked = peekList(list, 'messages');
  if (peeked === undefined) throw badMessages();
  // The extra fields of all the request's messages share one budget (see MAX_MESSAGE_EXTRAS).
  // Within the limits the render's own copy of the messages applies to them again: a field sits
  // two levels below `messages` (the list, then its message), and any list renders whole.
  const extras = plainJsonBudget(MAX_MESSAGE_EXTRAS, "the messages' extra fields (all but role and content)", true, {
    depth: MAX_PLAIN_JSON_DEPTH - 2,
    listItems: MIN_TEMPLATE_ITEMS,
  });
  // A list of lists is a batch of conversations; the first item tells. Every conversation is read
  // and checked before any is rendered.
  const conversations = isArray(peeked.first, 'messages')
    ? readList(list, 'messages', BATCH_BOUND, (conversation, i) => readConversation(conversation, `messages[${i}]`, extras), peeked)!
    : [readConversation(list, 'messages', extras, peeked)];
  return conversations.map((messages) => {
    const text = tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
    refuseCertainOverflow(text, tokenizer, contextLength);
    return chatPromptIds(text, tokenizer);
  });
}

const badMessages = (): InvalidOptionsError =>
  new InvalidOptionsError('messages must be a list of { role, content } objects with string fields.', { option: 'messages' });

/** One conversation (at `path`: `messages`, or `messages[i]` in a batch): a non-empty list of messages, each read once. */
function readConversation(value: unknown, path: string, extras: PlainJsonBudget, peeked?: Peeked): ChatMessage[] {
  const messages = readList(value, 'messages', MESSAGES_BOUND, (message, i) => readMessage(message, `${path}[${i}]`, extras), peeked);
  if (messages === undefined) throw badMessages();
  if (messages.length === 0) throw new InvalidOptionsError('messages must hold at least one { role, content } message.', { option: 'messages' });
  return messages;
}

/**
 * A message (at `path`, e.g. `messages[0]`) copied once: `role` and `content` read as
 * `message.role` and `message.content` (inherited ones too), and its other own fields (a template
 * may read more, such as `name` or `tool_calls`) copied as plain JSON data under the request's
 * `extras` budget (see `copyPlainJson`), so the template renders exactly what was checked and
 * never sees a typed array, a cycle or a getter. Each read is guarded: a field's read that
 * throws is an `InvalidOptionsError` naming its path (`messages[0].meta.x`), one of role, content
 * or the keys an `InvalidOptionsError` saying a message could not be read.
 */
function readMessage(value: unknown, path: string, extras: PlainJsonBudget): ChatMessage {
  if (typeof value !== 'object' || value === null) throw badMessages();
  const m = value as { readonly role?: unknown; readonly content?: unknown };
  const { role, content, keys } = readGuarded('a message', 'messages', () => ({ role: m.role, content: m.content, keys: Object.keys(m) }));
  if (typeof role !== 'string' || typeof content !== 'string') throw badMessages();
  const fields: [string, unknown][] = [];
  for (const key of keys) {
    if (key === 'role' || key === 'content') continue;
    const fieldPath = `${path}${propertyPath(key)}`;
    chargePlainJson(extras, 1 + key.length, fieldPath);
    const field = readGuarded(fieldPath, fieldPath, () => (m as Record<string, unknown>)[key]);
    if (field !== undefined) fields.push([key, copyPlainJson(field, fieldPath, extras, m)]);
  }
  return { ...Object.fromEntries(fields), role, content } as ChatMessage;
}

/**
 * A rendered chat prompt's ids with the tokenizer's leading special ids (BOS) exactly once: the
 * text's own ids when the template wrote them, else those ids after them. Decided per prompt, as a
 * template may write BOS for some conversations only (e.g. when the first message is a system
 * one); never with the trailing specials (EOS) some tokenizers add to a plain text. A tokenizer
 * whose leading ids cannot be told from a probe falls back on its `chatTemplateAddsBos`.
 */
function chatPromptIds(text: string, tokenizer: Tokenizer): number[] {
  const leading = cachedLeadingIds(tokenizer);
  if (leading === undefined) return tokenizer.encode(text, { addSpecialTokens: !tokenizer.chatTemplateAddsBos });
  const ids = tokenizer.encode(text, { addSpecialTokens: false });
  if (leading.length === 0 || leading.every((id, i) => ids[i] === id)) return ids;
  return [...leading, ...ids];
}

/** Per tokenizer: the ids encoding with specials puts before a text's own (see `leadingSpecialIds`). */
const leadingIds = new WeakMap<Tokenizer, readonly number[] | undefined>();

function cachedLeadingIds(tokenizer: Tokenizer): readonly number[] | undefined {
  if (!leadingIds.has(tokenizer)) leadingIds.set(tokenizer, leadingSpecialIds(tokenizer));
  return leadingIds.get(tokenizer);
}
