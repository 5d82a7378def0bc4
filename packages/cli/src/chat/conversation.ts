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
      /** Tokens of the system message and the new user message alone (a lower bound when `atLeast`). */
      readonly tokens: number;
      /** `tokens` is only a lower bound: counting stopped once the message could not fit. */
      readonly atLeast: boolean;
    };

/** A count of tokens: exact, or (`atLeast`) a lower bound where counting stopped early. */
export interface TokenCount {
  readonly tokens: number;
  readonly atLeast: boolean;
}

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
   * dropped; when it and `next` alone do not fit, nothing does. Fewer turns never render to more
   * tokens, so the number of turns to drop is searched for (doubling, then halving): a few counts,
   * not one per dropped turn.
   */
  fitMessage(next: string, budget: number, count: (messages: readonly ChatMessage[], stopAt: number) => TokenCount): Fit {
    const all = this.#turns;
    const whole = this.messages(all, next);
    const { tokens } = count(whole, budget + 1);
    if (tokens <= budget) return { fits: true, messages: whole, kept: all, dropped: 0, tokens };
    const alone = count(this.messages([], next), budget + 1);
    if (alone.tokens > budget) return { fits: false, tokens: alone.tokens, atLeast: alone.atLeast };
    let best: Fit = { fits: true, messages: this.messages([], next), kept: [], dropped: all.length, tokens: alone.tokens };
    const fitsDropping = (dropped: number): boolean => {
      const kept = all.slice(dropped);
      const messages = this.messages(kept, next);
      const n = count(messages, budget + 1).tokens;
      if (n > budget) return false;
      best = { fits: true, messages, kept, dropped, tokens: n };
      return true;
    };
    // Dropping `tooFew` turns is known not to fit, dropping `enough` (all of them: `alone`) to fit.
    // Usually one or two turns go, so the search doubles from 1 before it halves the range.
    let tooFew = 0;
    let enough = all.length;
    for (let step = 1; tooFew + step < enough; step *= 2) {
      if (fitsDropping(tooFew + step)) {
        enough = tooFew + step;
        break;
      }
      tooFew += step;
    }
    while (enough - tooFew > 1) {
      const middle = Math.floor((tooFew + enough) / 2);
      if (fitsDropping(middle)) enough = middle;
      else tooFew = middle;
    }
    return best;
  }
}

/** Rendered conversations over this many characters per token of the bound are counted in chunks first. */
const CHARS_PER_TOKEN_CHECKED = 8;

/**
 * Tokens of `messages` rendered with the model's chat template and a generation prompt (core's
 * `applyChatTemplate`, as a request's `messages` are), encoded as core encodes a chat prompt
 * (the tokenizer's leading specials once). A rendering far longer than `stopAt` tokens could be
 * (a pasted book) is counted in chunks only until the count reaches `stopAt`, which it then
 * returns as a lower bound (`atLeast`), so a line the context cannot hold costs no full encode.
 * So does a user message that alone is that long, counted before anything is rendered: a line
 * too long for the context is reported as such, not as a template's rendering limit.
 */
export function chatTokens(tokenizer: Tokenizer, messages: readonly ChatMessage[], stopAt: number): TokenCount {
  for (const message of messages) {
    if (message.content.length <= stopAt * CHARS_PER_TOKEN_CHECKED) continue;
    const atLeast = tokensAtLeast(message.content, tokenizer, stopAt);
    if (atLeast >= stopAt) return { tokens: atLeast, atLeast: true };
  }
  const text = tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
  if (text.length > stopAt * CHARS_PER_TOKEN_CHECKED) {
    const atLeast = tokensAtLeast(text, tokenizer, stopAt);
    if (atLeast >= stopAt) return { tokens: atLeast, atLeast: true };
  }
  return { tokens: tokenizer.encode(text, { addSpecialTokens: !tokenizer.chatTemplateAddsBos }).length, atLeast: false };
}
