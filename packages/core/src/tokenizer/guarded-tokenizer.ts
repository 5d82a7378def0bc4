import { PluginError } from '../errors/plugin-error.js';
import { WeftError } from '../errors/weft-error.js';
import type { ChatMessage, Tokenizer } from '../spec/tokenizer.js';
import { stageFailure } from '../generation/stage-runner.js';
import { decodeWithoutCleanUp, registerCleanUp } from './clean-up-spaces.js';

/**
 * A plugin's tokenizer with its failures named: anything it throws that is not a Weft error (those
 * are deliberate, e.g. an `InvalidOptionsError` for a model without a chat template) becomes a
 * `PluginError` naming the plugin and the method, wherever it is called from (request setup,
 * streaming detokenization, or user code through `model.tokenizer`).
 */
export class GuardedTokenizer implements Tokenizer {
  readonly chatTemplateAddsBos: boolean;
  readonly vocabSize: number;
  readonly tokenPiece?: (id: number) => Uint8Array | string | null;

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
        try {
          return uncleaned(ids);
        } catch (cause) {
          throw this.failure('decode', cause);
        }
      });
    }
    const piece = inner.tokenPiece;
    if (piece) {
      this.tokenPiece = (id) => {
        try {
          return piece.call(inner, id);
        } catch (cause) {
          throw this.failure('tokenPiece', cause);
        }
      };
    }
  }

  encode(text: string, options?: { readonly addSpecialTokens?: boolean }): number[] {
    try {
      return this.inner.encode(text, options);
    } catch (cause) {
      throw this.failure('encode', cause);
    }
  }

  decode(ids: readonly number[], options?: { readonly skipSpecialTokens?: boolean }): string {
    try {
      return this.inner.decode(ids, options);
    } catch (cause) {
      throw this.failure('decode', cause);
    }
  }

  applyChatTemplate(messages: readonly ChatMessage[], options?: { readonly addGenerationPrompt?: boolean }): string {
    try {
      return this.inner.applyChatTemplate(messages, options);
    } catch (cause) {
      throw this.failure('applyChatTemplate', cause);
    }
  }

  tokenToId(token: string): number | undefined {
    try {
      return this.inner.tokenToId(token);
    } catch (cause) {
      throw this.failure('tokenToId', cause);
    }
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
