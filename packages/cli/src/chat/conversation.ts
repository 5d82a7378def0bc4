import { tokensAtLeast, type ChatMessage, type Tokenizer } from '@weft/core';

/** One exchange of the conversation: what the user wrote and the reply the model gave. */
export interface Turn {
  readonly user: string;
  readonly assistant: string;
}

/** How a new user message fits the context with the history: the messages to send, or why it cannot. */
export type Fit =
  | {
      readonly fits: true;
      /** System message (if any), the turns kept, and the new user message. */
      readonly messages: readonly ChatMessage[];
      /** The turns of the history kept (the newest ones). */
      readonly kept: readonly Turn[];
      /** The oldest turns left out so that the rest fits. */
      readonly dropped: number;
      /** Tokens of the rendered conversation, as counted here (core counts the request's own). */
      readonly tokens: number;
    }
  | {
      readonly fits: false;
      /** Tokens (at least) of the system message and the new user message alone. */
      readonly tokens: number;
    };

/**
 * The conversation of `weft chat`: the system message and the turns so far. A new message is
 * sent with as many of the newest turns as fit (see {@link fitMessage}); a turn joins the history
 * only once its reply has completed.
 */
export class Conversation {
  #turns: Turn[] = [];

  constructor(readonly system: string | undefined) {}

  get turns(): readonly Turn[] {
    return this.#turns;
  }

  /** The messages for `turns` followed by the user message `next`. */
  messages(turns: readonly Turn[], next: string): ChatMessage[] {
    return [
      ...(this.system === undefined ? [] : [{ role: 'system', content: this.system }]),
      ...turns.flatMap((t) => [
        { role: 'user', content: t.user },
        { role: 'assistant', content: t.assistant },
      ]),
      { role: 'user', content: next },
    ];
  }

  /** Makes `kept` (what {@link fitMessage} kept) plus the completed turn the history. */
  commit(kept: readonly Turn[], turn: Turn): void {
    this.#turns = [...kept, turn];
  }

  /** Forgets every turn (the system message stays). */
  reset(): void {
    this.#turns = [];
  }

  /**
   * The newest turns that fit with `next` in `budget` tokens, as `count` counts the rendered
   * conversation (told the budget, past which it may stop counting). The system message is never
   * dropped; when it and `next` alone do not fit, nothing does.
   */
  fitMessage(next: string, budget: number, count: (messages: readonly ChatMessage[], stopAt: number) => number): Fit {
    const all = this.#turns;
    const whole = this.messages(all, next);
    const tokens = count(whole, budget + 1);
    if (tokens <= budget) return { fits: true, messages: whole, kept: all, dropped: 0, tokens };
    const alone = count(this.messages([], next), budget + 1);
    if (alone > budget) return { fits: false, tokens: alone };
    // The oldest turns go first, one by one, until the rest fits; with none left, `alone` fits.
    for (let dropped = 1; dropped < all.length; dropped++) {
      const kept = all.slice(dropped);
      const messages = this.messages(kept, next);
      const n = count(messages, budget + 1);
      if (n <= budget) return { fits: true, messages, kept, dropped, tokens: n };
    }
    return { fits: true, messages: this.messages([], next), kept: [], dropped: all.length, tokens: alone };
  }
}

/** Rendered conversations over this many characters per token of the bound are counted in chunks first. */
const CHARS_PER_TOKEN_CHECKED = 8;

/**
 * Tokens of `messages` rendered with the model's chat template and a generation prompt (core's
 * `applyChatTemplate`, as a request's `messages` are), encoded as core encodes a chat prompt
 * (the tokenizer's leading specials once). A rendering far longer than `stopAt` tokens could be
 * (a pasted book) is counted in chunks only until the count reaches `stopAt`, which it then
 * returns, so a line the context cannot hold costs no full encode.
 */
export function chatTokens(tokenizer: Tokenizer, messages: readonly ChatMessage[], stopAt: number): number {
  const text = tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
  if (text.length > stopAt * CHARS_PER_TOKEN_CHECKED) {
    const atLeast = tokensAtLeast(text, tokenizer, stopAt);
    if (atLeast >= stopAt) return atLeast;
  }
  return tokenizer.encode(text, { addSpecialTokens: !tokenizer.chatTemplateAddsBos }).length;
}
