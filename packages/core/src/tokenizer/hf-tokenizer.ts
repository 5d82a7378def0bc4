import { Template } from '@huggingface/jinja';
import { Tokenizer as HfTokenizerCore } from '@huggingface/tokenizers';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { ModelLoadError } from '../errors/model-load-error.js';
import type { ChatMessage, Tokenizer } from '../spec/tokenizer.js';
import { byteLevelPieces, type TokenPiece } from './byte-level-pieces.js';

/** Tokenizer over a Hugging Face `tokenizer.json` + `tokenizer_config.json`, with Jinja chat templates. */
export class HfTokenizer implements Tokenizer {
  readonly chatTemplateAddsBos: boolean;
  readonly vocabSize: number;
  private readonly core: HfTokenizerCore;
  private readonly template: Template | undefined;
  private readonly specials: Record<string, string>;
  readonly tokenPiece?: (id: number) => TokenPiece;

  constructor(tokenizerJson: unknown, tokenizerConfig: Record<string, unknown>, path = 'tokenizer.json') {
    try {
      this.core = new HfTokenizerCore(tokenizerJson as object, tokenizerConfig);
    } catch (cause) {
      throw new ModelLoadError(`Could not build the tokenizer from ${path}: ${(cause as Error).message}`, { path, cause });
    }
    // One more than the largest id (added tokens included), so ids are exactly [0, vocabSize).
    let largest = -1;
    for (const id of this.core.get_vocab(true).values()) if (id > largest) largest = id;
    this.vocabSize = largest + 1;
    const pieces = byteLevelPieces(tokenizerJson, tokenizerConfig);
    if (pieces) this.tokenPiece = pieces;
    this.specials = {};
    for (const key of ['bos_token', 'eos_token', 'pad_token', 'unk_token']) {
      const v = tokenizerConfig[key];
      const text = typeof v === 'string' ? v : typeof v === 'object' && v !== null ? (v as { content?: unknown }).content : undefined;
      if (typeof text === 'string') this.specials[key] = text;
    }
    const source = pickTemplate(tokenizerConfig['chat_template']);
    if (source !== undefined) {
      try {
        this.template = new Template(source);
      } catch (cause) {
        throw new ModelLoadError(`The chat_template in tokenizer_config.json does not parse: ${(cause as Error).message}`, { cause });
      }
    }
    this.chatTemplateAddsBos = source?.includes('bos_token') ?? false;
  }

  encode(text: string, options: { readonly addSpecialTokens?: boolean } = {}): number[] {
    return this.core.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
  }

  decode(ids: readonly number[], options: { readonly skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return '';
    return this.core.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? true });
  }

  applyChatTemplate(messages: readonly ChatMessage[], options: { readonly addGenerationPrompt?: boolean } = {}): string {
    if (!this.template) {
      throw new InvalidOptionsError('This model has no chat_template in tokenizer_config.json; pass `prompt` instead of `messages`.', {
        option: 'messages',
      });
    }
    return this.template.render({ messages, add_generation_prompt: options.addGenerationPrompt ?? true, ...this.specials });
  }

  tokenToId(token: string): number | undefined {
    return this.core.token_to_id(token);
  }
}

/** `chat_template` is a string, or a list of named templates (use `default`). */
function pickTemplate(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value.find((t) => (t as { name?: unknown }).name === 'default') as { template?: unknown } | undefined;
    return typeof named?.template === 'string' ? named.template : undefined;
  }
  return undefined;
}
