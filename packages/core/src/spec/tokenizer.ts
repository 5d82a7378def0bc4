/** A chat turn, as chat templates expect it. */
export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant' | (string & {});
  readonly content: string;
}

/**
 * Tokenizer contract used by the generation loop. The default implementation wraps
 * `@huggingface/tokenizers` and `@huggingface/jinja`.
 */
export interface Tokenizer {
  /** Encodes text; `addSpecialTokens` (default true) applies the tokenizer's post-processor (e.g. BOS). */
  encode(text: string, options?: { readonly addSpecialTokens?: boolean }): number[];
  /** Decodes ids; special tokens are skipped unless `skipSpecialTokens` is false. */
  decode(ids: readonly number[], options?: { readonly skipSpecialTokens?: boolean }): string;
  /** Renders `messages` with the model's chat template. Throws when the model has none. */
  applyChatTemplate(messages: readonly ChatMessage[], options?: { readonly addGenerationPrompt?: boolean }): string;
  /**
   * Whether the chat template writes what encoding with specials would put first (the BOS), as
   * judged at load from a one-message conversation, or the tokenizer puts nothing first. Core
   * checks each chat prompt itself where the tokenizer's leading ids can be found (encoding a
   * probe word with and without specials), and uses this flag only where they cannot.
   */
  readonly chatTemplateAddsBos: boolean;
  /**
   * Present only when decoding is a plain byte-level concatenation (GPT-2 style BPE, no clean-up):
   * the bytes token `id` adds, its text for added tokens, or null for skipped special tokens. Lets
   * the incremental detokenizer stream bytes instead of decoding windows of ids.
   */
  readonly tokenPiece?: (id: number) => Uint8Array | string | null;
  /** Id of a token string, if the vocabulary has it. */
  tokenToId(token: string): number | undefined;
  /**
   * The ids of the tokenizer's added tokens (tokenizer.json's `added_tokens`), where it knows them.
   * Special tokens are among these: core then finds the special tokens in a request's stop strings
   * by looking for their text, instead of encoding every stop string (some 300 µs each for a
   * long one). Without it, core encodes them.
   */
  readonly addedTokenIds?: readonly number[];
  /** One more than the largest id it can produce (added tokens included). */
  readonly vocabSize: number;
}

/**
 * What a `tokenizer` registry entry is created from: the model folder's tokenizer files, read and
 * parsed by core before the backend opens the graph. An entry that needs other files reads them
 * from `location` itself.
 *
 * (A type alias rather than an interface so that `create(files: TokenizerFiles)` fits
 * `AdapterEntry.create`.)
 */
export type TokenizerFiles = {
  /** The model folder as given to `load()`: a path, or an `http(s)://` URL. */
  readonly location: string;
  /** Parsed `tokenizer.json`, or `undefined` when the folder has none. */
  readonly tokenizerJson: unknown;
  /** Parsed `tokenizer_config.json` (`{}` when the folder has none). */
  readonly tokenizerConfig: Readonly<Record<string, unknown>>;
  /**
   * Text of `chat_template.jinja`, where newer transformers versions save the chat template
   * (it then takes the place of `tokenizer_config.json`'s `chat_template`, as in transformers);
   * undefined when the folder has none.
   */
  readonly chatTemplate?: string | undefined;
  /** Joins a file name onto the folder, e.g. for error messages. */
  readonly resolve: (file: string) => string;
};
