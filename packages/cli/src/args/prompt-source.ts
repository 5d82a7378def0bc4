import type { ChatMessage } from '@weft/core';
import { UsageError } from '../errors.js';
import { expandHome } from './home-path.js';

/** A prompt flag that names a file, read by the command (`-` = standard input; a leading `~/` is already the home directory). */
export interface PromptFile {
  readonly flag: '--prompt-file' | '--messages-file';
  readonly path: string;
}

/** Exactly one of the prompt flags, converted to a request field (a file is read later). */
export type PromptSource =
  | { readonly prompt: string }
  | { readonly inputIds: readonly number[] }
  | { readonly messages: readonly ChatMessage[] }
  | { readonly file: PromptFile };

/** The prompt flags as given (undefined when absent). */
export interface PromptFlags {
  readonly prompt: string | undefined;
  readonly promptIds: string | undefined;
  readonly messages: string | undefined;
  readonly promptFile: string | undefined;
  readonly messagesFile: string | undefined;
}

/** Picks the one prompt source among `--prompt`, `--prompt-file`, `--prompt-ids`, `--messages` and `--messages-file`. */
export function promptSource(flags: PromptFlags): PromptSource {
  const { prompt, promptIds, messages, promptFile, messagesFile } = flags;
  const given = [
    prompt !== undefined && '--prompt',
    promptFile !== undefined && '--prompt-file',
    promptIds !== undefined && '--prompt-ids',
    messages !== undefined && '--messages',
    messagesFile !== undefined && '--messages-file',
  ].filter((f): f is string => f !== false);
  if (given.length !== 1) {
    throw new UsageError(
      given.length === 0
        ? 'give a prompt with --prompt TEXT, --prompt-file FILE, --prompt-ids 1,2,3, --messages JSON or --messages-file FILE'
        : `give only one of ${given.join(', ')}`,
    );
  }
  if (prompt !== undefined) {
    if (prompt === '') throw new UsageError('--prompt is empty');
    return { prompt };
  }
  if (promptFile !== undefined) return { file: promptFileFlag('--prompt-file', promptFile) };
  if (messagesFile !== undefined) return { file: promptFileFlag('--messages-file', messagesFile) };
  if (promptIds !== undefined) return { inputIds: parseIdList(promptIds) };
  return { messages: parseMessages(messages!) };
}

function promptFileFlag(flag: PromptFile['flag'], path: string): PromptFile {
  if (path === '') throw new UsageError(`${flag} needs a file path (or - for standard input)`);
  return { flag, path: expandHome(path, flag) };
}

/** The request field a prompt file's text gives: the prompt itself, or the messages its JSON holds. */
export function promptFromFile(file: PromptFile, text: string): { readonly prompt: string } | { readonly messages: readonly ChatMessage[] } {
  if (file.flag === '--prompt-file') return { prompt: promptFromFileText(text, file.path) };
  if (text.trim() === '') throw new UsageError(`--messages-file ${file.path} is empty`);
  return { messages: parseMessages(text, `--messages-file ${file.path}`) };
}

/**
 * The prompt text of a `--prompt-file` (strict UTF-8): one trailing line break is dropped, as
 * `$(cat FILE)` would drop it, so `echo "text" > FILE` gives the prompt "text".
 */
export function promptFromFileText(text: string, path: string): string {
  const prompt = text.replace(/\r?\n$/, '');
  if (prompt === '') throw new UsageError(`--prompt-file ${path} is empty`);
  return prompt;
}

/** `1,2,3` → [1, 2, 3]: comma-separated non-negative integers (spaces around commas allowed). */
export function parseIdList(text: string): number[] {
  const parts = text.split(',').map((p) => p.trim());
  const ids = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : Number.NaN));
  const bad = parts.findIndex((p, i) => p === '' || !Number.isSafeInteger(ids[i]));
  if (bad >= 0) {
    throw new UsageError(`--prompt-ids must be comma-separated non-negative integers such as 1,2,3 (bad entry ${JSON.stringify(parts[bad])})`);
  }
  return ids;
}

/**
 * A JSON array of `{ role, content }` objects with string fields; `source` names it in errors. A
 * batch of conversations (a list of such lists, which the SDK takes) is refused with its own message.
 */
export function parseMessages(text: string, source = '--messages'): ChatMessage[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${source} is not valid JSON: ${(error as Error).message}`);
  }
  const isMessage = (m: unknown): m is ChatMessage =>
    typeof m === 'object' && m !== null && typeof (m as ChatMessage).role === 'string' && typeof (m as ChatMessage).content === 'string';
  // A batch of one conversation is that conversation.
  if (Array.isArray(value) && value.length === 1 && Array.isArray(value[0])) value = value[0];
  // A batch of conversations, as the SDK takes: one generation's text is what weft generate prints.
  if (Array.isArray(value) && value.length > 0 && value.every(Array.isArray)) {
    throw new UsageError(
      `${source} holds a batch of ${value.length} conversations (a JSON list of lists), but weft generate runs one; ` +
        'pass one conversation, a list of {"role": "...", "content": "..."} objects, per run (batches are an SDK feature: model.generate({ messages: [[...], [...]] }))',
    );
  }
  if (!Array.isArray(value) || value.length === 0 || !value.every(isMessage)) {
    throw new UsageError(`${source} must be a non-empty JSON array of {"role": "...", "content": "..."} objects`);
  }
  return value.map((m) => ({ role: m.role, content: m.content }));
}
