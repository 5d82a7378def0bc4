import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import type { GenerationRequest } from '../spec/request.js';
import type { ChatMessage, Tokenizer } from '../spec/tokenizer.js';

/**
 * Turns `prompt`, `messages` or `inputIds` into one id list per batch row. `prompt` applies the
 * tokenizer's special-token rules; chat prompts are encoded without adding specials when the
 * template already writes the BOS token; `inputIds` are used exactly as given.
 */
export function promptIds(request: GenerationRequest, tokenizer: Tokenizer, vocabSize: number): number[][] {
  const given = (['prompt', 'messages', 'inputIds'] as const).filter((k) => request[k] !== undefined);
  if (given.length !== 1) {
    throw new InvalidOptionsError(`Give exactly one of prompt, messages or inputIds (got ${given.length === 0 ? 'none' : given.join(', ')}).`, {
      option: 'prompt',
    });
  }
  let rows: number[][];
  if (request.prompt !== undefined) {
    const prompts = typeof request.prompt === 'string' ? [request.prompt] : [...request.prompt];
    if (prompts.some((p) => typeof p !== 'string')) throw new InvalidOptionsError('prompt must be a string or an array of strings.', { option: 'prompt' });
    rows = prompts.map((p) => tokenizer.encode(p));
  } else if (request.messages !== undefined) {
    const list = request.messages;
    const conversations = (list.length > 0 && Array.isArray(list[0]) ? list : [list]) as readonly (readonly ChatMessage[])[];
    rows = conversations.map((messages) => {
      if (!Array.isArray(messages) || messages.some((m) => typeof m?.role !== 'string' || typeof m?.content !== 'string')) {
        throw new InvalidOptionsError('messages must be a list of { role, content } objects with string fields.', { option: 'messages' });
      }
      const text = tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
      return tokenizer.encode(text, { addSpecialTokens: !tokenizer.chatTemplateAddsBos });
    });
  } else {
    const ids = request.inputIds!;
    const nested = (ids.length > 0 && Array.isArray(ids[0]) ? ids : [ids]) as readonly (readonly number[])[];
    rows = nested.map((row) => {
      if (!Array.isArray(row) || row.some((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize)) {
        throw new InvalidOptionsError(`inputIds must be integers in [0, ${vocabSize}).`, { option: 'inputIds' });
      }
      return [...row];
    });
  }
  if (rows.length === 0) throw new InvalidOptionsError('The request has no prompts.', { option: 'prompt' });
  if (rows.some((r) => r.length === 0)) throw new InvalidOptionsError('A prompt encodes to zero tokens; give at least one token.', { option: 'prompt' });
  return rows;
}
