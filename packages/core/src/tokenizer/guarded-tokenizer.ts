import { PluginError } from '../errors/plugin-error.js';
import { WeftError } from '../errors/weft-error.js';
import type { ChatMessage, Tokenizer } from '../spec/tokenizer.js';
import { stageFailure } from '../generation/stage-runner.js';
import { quoteValue } from '../util/describe-cause.js';
import { decodeWithoutCleanUp, registerCleanUp } from './clean-up-spaces.js';

/**
 * A plugin's tokenizer with its failures named: anything it throws that is not a Weft error (those
 * are deliberate, e.g. an `InvalidOptionsError` for a model without a chat template) becomes a
 * `PluginError` naming the plugin and the method, wherever it is called from (request setup,
 * streaming detokenization, or user code through `model.tokenizer`). So does a result of the wrong
 * kind: ids that are not integers in [0, vocabSize), a text that is not a string, a piece that is
 * not bytes, a string or null.
 */
export class GuardedTokenizer implements Tokenizer {
  readonly chatTemplateAddsBos: boolean;
  readonly vocabSize: number;
  readonly tokenPiece?: (id: number) => Uint8Array | string | null;
  readonly addedTokenIds?: readonly number[];

  constructor(
    private readonly inner: Tokenizer,
    private readonly owner: string,
    private readonly name: string,
  ) {
    this.chatTemplateAddsBos = inner.chatTemplateAddsBos;
    this.vocabSize = inner.vocabSize;
    // A plugin's HfTokenizer cleans up spaces as core's does: streams need its decode without it.
    const uncleaned = decodeWithoutCleanUp(inner);
    if (uncleaned) {
      registerCleanUp(this, (ids) => {
        let text: unknown;
        try {
          text = uncleaned(ids);
        } catch (cause) {
          throw this.failure('decode', cause);
        }
        return typeof text === 'string' ? text : this.wrongResult('decode', text, 'a string');
      });
    }
    const added = addedIdsOf(inner, this.vocabSize);
    if (added !== undefined) this.addedTokenIds = added;
    const piece = inner.tokenPiece;
    if (piece) {
      this.tokenPiece = (id) => {
        let result: unknown;
        try {
          result = piece.call(inner, id);
        } catch (cause) {
          throw this.failure('tokenPiece', cause);
        }
        if (result === null || typeof result === 'string' || result instanceof Uint8Array) return result;
        return this.wrongResult('tokenPiece', result, "the bytes of a token, an added token's text or null");
      };
    }
  }

  encode(text: string, options?: { readonly addSpecialTokens?: boolean }): number[] {
    let ids: unknown;
    try {
      ids = this.inner.encode(text, options);
    } catch (cause) {
      throw this.failure('encode', cause);
    }
    if (!Array.isArray(ids)) return this.wrongResult('encode', ids, `a list of token ids in [0, ${this.vocabSize})`);
    for (let i = 0; i < ids.length; i++) {
      if (!this.isId(ids[i])) this.wrongResult('encode', ids[i], `a token id in [0, ${this.vocabSize})`, `a list whose item ${i} is `);
    }
    return ids as number[];
  }

  decode(ids: readonly number[], options?: { readonly skipSpecialTokens?: boolean }): string {
    let text: unknown;
    try {
      text = this.inner.decode(ids, options);
    } catch (cause) {
      throw this.failure('decode', cause);
    }
    return typeof text === 'string' ? text : this.wrongResult('decode', text, 'a string');
  }

  applyChatTemplate(messages: readonly ChatMessage[], options?: { readonly addGenerationPrompt?: boolean }): string {
    let text: unknown;
    try {
      text = this.inner.applyChatTemplate(messages, options);
    } catch (cause) {
      throw this.failure('applyChatTemplate', cause);
    }
    return typeof text === 'string' ? text : this.wrongResult('applyChatTemplate', text, 'a string');
  }

  tokenToId(token: string): number | undefined {
    let id: unknown;
    try {
      id = this.inner.tokenToId(token);
    } catch (cause) {
      throw this.failure('tokenToId', cause);
    }
    return id === undefined || this.isId(id) ? id : this.wrongResult('tokenToId', id, `a token id in [0, ${this.vocabSize}) or undefined`);
  }

  private isId(id: unknown): id is number {
    return typeof id === 'number' && Number.isInteger(id) && id >= 0 && id < this.vocabSize;
  }

  /** A `PluginError`: `method` returned `value` (described after `what`) instead of `expected`. */
  private wrongResult(method: string, value: unknown, expected: string, what = ''): never {
    throw new PluginError(this.owner, `tokenizer "${this.name}" ${method}`, `returned ${what}${quoteValue(value)}, not ${expected}.`);
  }

  private failure(method: string, cause: unknown): Error {
    let deliberate = false;
    try {
      // A PluginError goes through stageFailure, which keeps it only when it names this plugin.
      deliberate = WeftError.isInstance(cause) && !PluginError.isInstance(cause);
    } catch {
      // A thrown value whose reads throw: described by stageFailure.
    }
    return deliberate ? (cause as WeftError) : stageFailure(this.owner, `tokenizer "${this.name}" ${method}`, cause);
  }
}

/** Most added-token ids taken from a plugin's tokenizer (real tokenizers have a few hundred). */
const MAX_ADDED_IDS = 100_000;

/**
 * A frozen copy of a plugin tokenizer's `addedTokenIds`, read once, when it is a list of at most
 * {@link MAX_ADDED_IDS} ids in [0, `vocabSize`); undefined otherwise (then core encodes stop
 * strings to find their special tokens, as for a tokenizer that does not say).
 */
function addedIdsOf(inner: Tokenizer, vocabSize: number): readonly number[] | undefined {
  try {
    const ids: unknown = inner.addedTokenIds;
    if (!Array.isArray(ids) || ids.length > MAX_ADDED_IDS) return undefined;
    const copy: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id: unknown = ids[i];
      if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= vocabSize) return undefined;
      copy.push(id as number);
    }
    return Object.freeze(copy);
  } catch {
    return undefined;
  }
}
