import { Tokenizer as HfTokenizerCore } from '@huggingface/tokenizers';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { ModelLoadError } from '../errors/model-load-error.js';
import type { ChatMessage, Tokenizer } from '../spec/tokenizer.js';
import { requireJsonObject } from '../util/json-object.js';
import { describeCause, quoteValue } from '../util/describe-cause.js';
import { buildTokenizerCore, encodeProbe, probeTokenizerCore, type ProbeIds } from './build-tokenizer-core.js';
import { byteLevelPieces, type TokenPiece } from './byte-level-pieces.js';
import { checkTokenizerJson } from './check-tokenizer-json.js';
import { registerCleanUp } from './clean-up-spaces.js';
import { specialIdsBetween } from './leading-special-ids.js';
import { readSpecialTokenFlags, specialTokensProcessor, specialTokenText } from './special-token-flags.js';
import {
  BoundedChatTemplate,
  CHAT_TEMPLATE_PROBE_LIMITS,
  ChatTemplateLimitError,
  ChatTemplateRaisedError,
  chatTemplateLimits,
  type ChatTemplateLimits,
} from './bounded-chat-template.js';

/** Tokenizer over a Hugging Face `tokenizer.json` + `tokenizer_config.json`, with Jinja chat templates. */
export class HfTokenizer implements Tokenizer {
  /**
   * Whether the chat template's text already starts with what the tokenizer would put first (its
   * BOS), found by rendering a one-message conversation: then chat prompts are encoded without
   * specials. Also true when the tokenizer puts nothing first (Qwen2, GPT-2), so that nothing it
   * adds after the text (an EOS) ends a chat prompt. A template that refuses that conversation is
   * judged by whether its source names `bos_token`.
   */
  readonly chatTemplateAddsBos: boolean;
  readonly vocabSize: number;
  readonly addedTokenIds: readonly number[];
  private readonly core: HfTokenizerCore;
  private readonly template: BoundedChatTemplate | undefined;
  /**
   * Why the chat template did not parse (Jinja the interpreter cannot read), naming its file:
   * the cause of the `InvalidOptionsError` each `messages` render gets, so the model still takes
   * prompts and ids.
   */
  private readonly templateUnparsed: ModelLoadError | undefined;
  private readonly specials: Record<string, string>;
  /** The file the chat template came from, for messages: `tokenizer_config.json` or `chat_template.jinja`. */
  private readonly templateFile: string;
  /** tokenizer.json, for messages. */
  private readonly file: string;
  /** Names of the file's named chat templates when none is `default` (so none is used). */
  private readonly otherTemplates: readonly string[];
  readonly tokenPiece?: (id: number) => TokenPiece;

  /**
   * `path` and `configPath` name `tokenizer.json` and `tokenizer_config.json` in messages. A file
   * of the wrong shape (not an object, an empty vocabulary, a chat_template that is neither a
   * string nor a list of named templates…) is a `ModelLoadError` naming the file and the field;
   * content @huggingface/tokenizers cannot build a tokenizer from, or encode a word with, is one
   * naming the file (and tokenizer.json's part at fault), with the library's error as `cause`.
   * `chatTemplate` is the text of a `chat_template.jinja` and its path: it takes the place of the
   * config's `chat_template`, as in transformers. The config's `add_bos_token` / `add_eos_token`
   * decide the special tokens of an encoding as in transformers' fast tokenizers (see
   * `special-token-flags.ts`); a flag that is not a boolean, or true for a token the files do not
   * define, is a `ModelLoadError` naming the config. A chat template that does not parse is not:
   * `applyChatTemplate` refuses with an `InvalidOptionsError` saying so, whose `cause` is that
   * `ModelLoadError` (prompts still work).
   */
  constructor(
    tokenizerJson: unknown,
    tokenizerConfig: Record<string, unknown>,
    path = 'tokenizer.json',
    configPath = 'tokenizer_config.json',
    chatTemplate?: { readonly source: string; readonly path: string },
  ) {
    const json = checkTokenizerJson(tokenizerJson, path);
    this.file = path;
    requireJsonObject(tokenizerConfig, configPath);
    const flags = readSpecialTokenFlags(tokenizerConfig, configPath);
    const paths = { path, configPath };
    this.core = buildTokenizerCore(json, tokenizerConfig, paths);
    // The probe word encoded under tokenizer.json's own post-processor (undefined when that throws:
    // the probe below then fails the load, unless the flags replace the post-processor).
    const first = tryEncodeProbe(this.core);
    // What tokenizer.json's own post-processor adds, before the flags replace it.
    const shipped = first && specialIdsIn(first);
    const processor = specialTokensProcessor(flags, {
      config: tokenizerConfig,
      configPath,
      path,
      shipped: shipped ?? { leading: [], trailing: [] },
      tokenToId: (token) => this.core.token_to_id(token),
      idToToken: (id) => this.core.id_to_token(id),
    });
    if (processor) this.core.post_processor = processor;
    // Encodes again only under the flags' post-processor: otherwise `first` is this probe's encodings.
    const probed = probeTokenizerCore(this.core, json, tokenizerConfig, paths, processor === undefined, processor ? undefined : first);
    // One more than the largest id (added tokens included), so ids are exactly [0, vocabSize).
    let largest = -1;
    for (const id of this.core.get_vocab(true).values()) if (id > largest) largest = id;
    this.vocabSize = largest + 1;
    // checkTokenizerJson has checked them: a list of { id: whole number, content: string }.
    const added = json['added_tokens'] as readonly { readonly id: number }[];
    this.addedTokenIds = Object.freeze(added.map((t) => t.id).filter((id) => id >= 0 && id < this.vocabSize));
    const pieces = byteLevelPieces(json, tokenizerConfig);
    if (pieces) this.tokenPiece = pieces;
    // As the library decides: clean-up is on unless the config turns it off (Llama 3 turns it on).
    if (tokenizerConfig['clean_up_tokenization_spaces'] ?? true) {
      // Streams decode without it and clean up what is settled (IncrementalDetokenizer).
      registerCleanUp(this, (ids) => this.decodeKnown(ids, true, false));
    }
    this.specials = {};
    for (const key of ['bos_token', 'eos_token', 'pad_token', 'unk_token']) {
      const text = specialTokenText(tokenizerConfig[key]);
      if (text !== undefined) this.specials[key] = text;
    }
    const leading = processor ? specialIdsIn(probed)?.leading : shipped?.leading;
    // Older repositories name bos_token only in special_tokens_map.json, which Weft does not read:
    // the token tokenizer.json's post-processor puts first stands in (an explicit null stays none).
    const firstToken = shipped?.leading[0] === undefined ? undefined : this.core.id_to_token(shipped.leading[0]);
    if (tokenizerConfig['bos_token'] === undefined && firstToken !== undefined) this.specials['bos_token'] = firstToken;
    const listed = chatTemplate === undefined ? tokenizerConfig['chat_template'] : undefined;
    const source = chatTemplate?.source ?? pickTemplate(listed, configPath);
    this.templateFile = chatTemplate === undefined ? basename(configPath) : basename(chatTemplate.path);
    this.otherTemplates = source === undefined && Array.isArray(listed) ? listed.map((t: { name: string }) => t.name) : [];
    if (source !== undefined) {
      const where = chatTemplate === undefined ? `The chat_template in ${configPath}` : `The chat template ${chatTemplate.path}`;
      try {
        this.template = new BoundedChatTemplate(source);
      } catch (cause) {
        this.templateUnparsed = new ModelLoadError(`${where} does not parse: ${describeCause(cause).replace(/\.$/, '')}`, { path: chatTemplate?.path ?? configPath, cause });
      }
    }
    this.chatTemplateAddsBos = source !== undefined && this.templateStartsWith(leading, source);
  }

  /** See `chatTemplateAddsBos`. */
  private templateStartsWith(leading: readonly number[] | undefined, source: string): boolean {
    if (leading !== undefined && this.template !== undefined) {
      try {
        // Under small limits: this runs at every load, also for models only ever given prompts.
        const ids = this.encode(this.render([{ role: 'user', content: 'Hello' }], true, CHAT_TEMPLATE_PROBE_LIMITS), { addSpecialTokens: false });
        return leading.every((id, i) => ids[i] === id);
      } catch {
        // The template refuses a lone user message (or fails on it): judged by its source.
      }
    }
    return source.includes('bos_token');
  }

  /**
   * The ids of `text`. A piece the vocabulary has no id for (a `model.unk_token` that is not one of
   * its tokens gives such pieces no id at all) is a `ModelLoadError` naming tokenizer.json: those
   * ids could not be fed to the model.
   */
  encode(text: string, options: { readonly addSpecialTokens?: boolean } = {}): number[] {
    if (typeof text !== 'string') throw new InvalidOptionsError(`encode takes a string, not ${quoteValue(text, 40)}.`, { option: 'text' });
    const ids: readonly unknown[] = this.core.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
    for (let i = 0; i < ids.length; i++) if (!Number.isInteger(ids[i])) throw this.noIdError(text, ids, i);
    return ids as number[];
  }

  private noIdError(text: string, ids: readonly unknown[], at: number): ModelLoadError {
    const unk = (this.core as { model?: { unk_token?: unknown } }).model?.unk_token;
    const why = typeof unk === 'string' && this.core.token_to_id(unk) === undefined
      ? `its model.unk_token ${quoteValue(unk)} is not a token of its vocabulary, so pieces it does not know get no id`
      : 'it gave a piece no id';
    return new ModelLoadError(`${this.file} cannot encode ${quoteValue(text, 40)}: ${why} (id ${at + 1} of ${ids.length} is ${quoteValue(ids[at])}).`, { path: this.file });
  }

  /**
   * The text of `ids` (an array, or an integer typed array such as `Int32Array`). Ids without a
   * token are dropped, as Hugging Face's decoder does; anything else is an `InvalidOptionsError`.
   */
  decode(ids: readonly number[], options: { readonly skipSpecialTokens?: boolean } = {}): string {
    return this.decodeKnown(Array.isArray(ids) ? ids : idArray(ids), options.skipSpecialTokens ?? true);
  }

  /**
   * Decodes `ids`, dropping those without a token as Hugging Face's own decoder does (a model's
   * embedding is often padded past the tokenizer's ids, and sampling can still pick them): the
   * library would hand its decoders a missing token, which sentencepiece-style decoders throw on.
   * `cleanUp` undefined: as the config says.
   */
  private decodeKnown(ids: readonly number[], skipSpecialTokens: boolean, cleanUp?: boolean): string {
    const known = ids.filter((id) => this.core.id_to_token(id) !== undefined);
    if (known.length === 0) return '';
    return this.core.decode(known, { skip_special_tokens: skipSpecialTokens, ...(cleanUp === undefined ? {} : { clean_up_tokenization_spaces: cleanUp }) });
  }

  applyChatTemplate(messages: readonly ChatMessage[], options: { readonly addGenerationPrompt?: boolean } = {}): string {
    if (this.templateUnparsed) {
      throw new InvalidOptionsError(`${this.templateUnparsed.message}. Fix the template, or pass \`prompt\` instead of \`messages\`.`, {
        option: 'messages',
        cause: this.templateUnparsed,
      });
    }
    if (!this.template) {
      const named = this.otherTemplates.map((n) => JSON.stringify(n)).join(', ');
      const problem = named === ''
        ? 'This model has no chat_template (in tokenizer_config.json or chat_template.jinja)'
        : `tokenizer_config.json names its chat templates (${named}) but none "default", the one Weft uses`;
      throw new InvalidOptionsError(`${problem}; pass \`prompt\` instead of \`messages\`.`, {
        option: 'messages',
      });
    }
    try {
      return this.render(messages, options.addGenerationPrompt ?? true);
    } catch (cause) {
      throw renderFailure(cause, this.templateFile);
    }
  }

  /** Renders `messages` with the template (which must exist) under `limits` (default: scaled to the input). */
  private render(messages: readonly ChatMessage[], addGenerationPrompt: boolean, limits?: ChatTemplateLimits): string {
    // transformers always passes `tools` and `documents` (None when not given): templates test
    // `tools is not none` without checking that it is defined.
    const context = { messages, tools: null, documents: null, add_generation_prompt: addGenerationPrompt, ...this.specials };
    // Scaled to the input as copied for rendering (plain data, extra fields bounded): measuring
    // the caller's messages instead let a huge field raise its own limits, and took seconds first.
    return this.template!.render(context, limits ?? ((input) => chatTemplateLimits(inputLength(input), messages.length)));
  }

  tokenToId(token: string): number | undefined {
    return this.core.token_to_id(token);
  }
}

/** `ids` given to `decode` as something other than an array: an integer typed array's values, else an `InvalidOptionsError`. */
function idArray(ids: unknown): number[] {
  const integers = ids instanceof Int8Array || ids instanceof Uint8Array || ids instanceof Int16Array || ids instanceof Uint16Array || ids instanceof Int32Array || ids instanceof Uint32Array;
  if (integers) return Array.from(ids);
  throw new InvalidOptionsError(`decode takes an array of token ids, not ${quoteValue(ids, 40)}.`, { option: 'ids' });
}

/** The probe word's encodings under `core`'s post-processor as it is now; undefined when encoding throws. */
function tryEncodeProbe(core: HfTokenizerCore): ProbeIds | undefined {
  try {
    return encodeProbe(core);
  } catch {
    return undefined;
  }
}

/**
 * The ids the probe's encoding with specials puts around the word's own, as `specialIdsAround`
 * finds them through `encode`: none when either encoding holds a value that is not an id (which
 * `encode` refuses).
 */
function specialIdsIn(probe: ProbeIds): { leading: number[]; trailing: number[] } | undefined {
  const ids = (list: readonly unknown[]): list is readonly number[] => list.every((id) => Number.isInteger(id));
  return ids(probe.bare) && ids(probe.full) ? specialIdsBetween(probe.bare, probe.full) : undefined;
}

/**
 * Why a render failed, with the way out: the messages are not plain JSON data (the error as it
 * is), the template refused the messages on purpose
 * (`raise_exception`, e.g. roles that do not alternate), went over the rendering limits, or uses
 * something @huggingface/jinja does not have.
 */
function renderFailure(cause: unknown, file: string): InvalidOptionsError {
  // The messages themselves were refused before the template ran (a typed array, a cycle, a getter
  // that throws in a field): the error names the field, and the template is not to blame.
  if (InvalidOptionsError.isInstance(cause)) return cause;
  const reason = cause instanceof Error ? cause.message : String(cause);
  const start = `The model's chat_template (${file})`;
  const advice = cause instanceof ChatTemplateRaisedError
    ? `${start} refused these messages: ${reason}. Change the messages to what it accepts.`
    : cause instanceof ChatTemplateLimitError
      ? `${start} could not render these messages: ${reason}. The template is broken or hostile: fix its chat_template, or pass \`prompt\` instead.`
      : `${start} could not render these messages: ${reason}. It may use a feature @huggingface/jinja lacks: pass \`prompt\` instead.`;
  return new InvalidOptionsError(advice, { option: 'messages', cause });
}

/** The last part of a path or URL. */
function basename(path: string): string {
  return path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
}

/** Characters of a render's input (its JSON), which its limits scale with; 0 when it has none (a string past V8's longest). */
function inputLength(context: Readonly<Record<string, unknown>>): number {
  try {
    return JSON.stringify(context)?.length ?? 0;
  } catch {
    return 0;
  }
}

/**
 * `chat_template` as Hugging Face writes it: a string, or a list of `{ name, template }` objects
 * (the one named `default` is used). Anything else is a `ModelLoadError` naming `configPath`.
 */
function pickTemplate(value: unknown, configPath: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (!Array.isArray(value) || !value.every(isNamedTemplate)) {
    throw new ModelLoadError(
      `${configPath}: chat_template must be a string or a list of { name, template } objects with string fields (got ${quoteValue(value)}); fix or remove it.`,
      { path: configPath },
    );
  }
  return value.find((t) => t.name === 'default')?.template;
}

function isNamedTemplate(entry: unknown): entry is { name: string; template: string } {
  const t = entry as { name?: unknown; template?: unknown } | null;
  return typeof t === 'object' && t !== null && typeof t.name === 'string' && typeof t.template === 'string';
}
