/**
 * `add_bos_token` / `add_eos_token` of tokenizer_config.json, read as transformers' fast tokenizers
 * read them. When the file has either flag, the special tokens an encoding gets are exactly
 * `[bos_token] text [eos_token]`, each only where its flag is true: transformers rebuilds the
 * post-processor from the flags (`update_post_processor`), replacing tokenizer.json's. When it has
 * neither, tokenizer.json's post-processor decides alone. A flag left out while the other is given
 * keeps what tokenizer.json's post-processor does with its token. The rule does not depend on
 * `tokenizer_class`.
 *
 * `legacy` is not read: it changes only the slow (sentencepiece) tokenizer and the conversion of
 * one into tokenizer.json, never a tokenizer.json that is loaded.
 */
import * as hfTokenizers from '@huggingface/tokenizers';
import { ModelLoadError } from '../errors/model-load-error.js';
import { quoteValue } from '../util/describe-cause.js';

/** A `TemplateProcessing` entry of tokenizer.json (`single`, `pair`, `special_tokens`). */
interface TemplateProcessingConfig {
  readonly type: 'TemplateProcessing';
  readonly single: readonly TemplateItem[];
  readonly pair: readonly TemplateItem[];
  readonly special_tokens: Readonly<Record<string, { readonly id: string; readonly ids: readonly number[]; readonly tokens: readonly string[] }>>;
}
type TemplateItem = { readonly SpecialToken: { readonly id: string; readonly type_id: number } } | { readonly Sequence: { readonly id: 'A' | 'B'; readonly type_id: number } };

/** A post-processor of @huggingface/tokenizers, as its `Tokenizer` holds one in `post_processor`. */
export type PostProcessor = object;

/**
 * The library's own `TemplateProcessing` post-processor, which it exports: reached through the
 * namespace because its type declarations use extensionless paths that do not resolve under
 * NodeNext (the library's `Tokenizer` is untyped here for the same reason).
 */
const TemplateProcessing = (hfTokenizers as unknown as { TemplateProcessingPostProcessor: new (config: TemplateProcessingConfig) => PostProcessor })
  .TemplateProcessingPostProcessor;

/** The two flags as tokenizer_config.json gives them; undefined where it leaves one out. */
export interface SpecialTokenFlags {
  readonly addBos: boolean | undefined;
  readonly addEos: boolean | undefined;
}

/**
 * The two flags of `config`, undefined where absent or null (a null keyword argument is the
 * default in transformers); anything but true, false or null is a `ModelLoadError` naming `configPath`.
 */
export function readSpecialTokenFlags(config: Readonly<Record<string, unknown>>, configPath: string): SpecialTokenFlags {
  return { addBos: readFlag(config, 'add_bos_token', configPath), addEos: readFlag(config, 'add_eos_token', configPath) };
}

function readFlag(config: Readonly<Record<string, unknown>>, key: string, configPath: string): boolean | undefined {
  const value = config[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'boolean') return value;
  throw new ModelLoadError(`${configPath}: ${key} must be true or false (got ${quoteValue(value)}); fix or remove it.`, { path: configPath });
}

/** The text of a special-token entry of tokenizer_config.json: a string, or an `AddedToken` object's content. */
export function specialTokenText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null) {
    const content = (value as { content?: unknown }).content;
    if (typeof content === 'string') return content;
  }
  return undefined;
}

/** What a tokenizer must offer for {@link specialTokensProcessor}. */
export interface FlagContext {
  readonly config: Readonly<Record<string, unknown>>;
  readonly configPath: string;
  /** tokenizer.json, for messages. */
  readonly path: string;
  /** The ids tokenizer.json's own post-processor puts before and after a text (none when unknown). */
  readonly shipped: { readonly leading: readonly number[]; readonly trailing: readonly number[] };
  readonly tokenToId: (token: string) => number | undefined;
  readonly idToToken: (id: number) => string | undefined;
}

/**
 * The post-processor that replaces tokenizer.json's when the config names either flag: a
 * `TemplateProcessing` of `[bos] $A [eos]` (pairs `[bos] $A [eos] [bos] $B [eos]`), as
 * transformers builds it; undefined when neither flag is in the config. A flag set to true whose
 * token the config does not name (null, or a value that is not a token) adds nothing, as in
 * transformers 5; one whose token tokenizer.json lacks is a `ModelLoadError` naming the config.
 */
export function specialTokensProcessor(flags: SpecialTokenFlags, context: FlagContext): PostProcessor | undefined {
  if (flags.addBos === undefined && flags.addEos === undefined) return undefined;
  const { leading, trailing } = context.shipped;
  const bos = flagToken(context, 'bos_token', leading[0]);
  const eos = flagToken(context, 'eos_token', trailing.at(-1));
  // A flag left out keeps what tokenizer.json does with its token.
  const addBos = flags.addBos ?? (bos !== undefined && leading.length > 0 && leading[0] === context.tokenToId(bos));
  const addEos = flags.addEos ?? (eos !== undefined && trailing.length > 0 && trailing.at(-1) === context.tokenToId(eos));
  if (addBos) requireKnownToken(context, 'add_bos_token', 'bos_token', bos);
  if (addEos) requireKnownToken(context, 'add_eos_token', 'eos_token', eos);
  const special = (token: string | undefined, typeId: number): TemplateItem[] => (token === undefined ? [] : [{ SpecialToken: { id: token, type_id: typeId } }]);
  const sequence = (id: 'A' | 'B', typeId: number): TemplateItem => ({ Sequence: { id, type_id: typeId } });
  const b = addBos ? bos : undefined;
  const e = addEos ? eos : undefined;
  const single = [...special(b, 0), sequence('A', 0), ...special(e, 0)];
  const pair = [...single, ...special(b, 1), sequence('B', 1), ...special(e, 1)];
  const specialTokens = Object.fromEntries(
    [b, e].filter((t): t is string => t !== undefined).map((t) => [t, { id: t, ids: [context.tokenToId(t)!], tokens: [t] }]),
  );
  return new TemplateProcessing({ type: 'TemplateProcessing', single, pair, special_tokens: specialTokens });
}

/**
 * The token `key` names in the config. When the config has no such key at all (older repositories
 * name it only in special_tokens_map.json, which Weft does not read), the token tokenizer.json's
 * post-processor puts there stands in; an explicit null stays none.
 */
function flagToken(context: FlagContext, key: 'bos_token' | 'eos_token', shippedId: number | undefined): string | undefined {
  if (context.config[key] !== undefined) return specialTokenText(context.config[key]);
  return shippedId === undefined ? undefined : context.idToToken(shippedId);
}

/** A token the config names for a flag set to true must be one of tokenizer.json's (none named: nothing is added). */
function requireKnownToken(context: FlagContext, flag: string, key: string, token: string | undefined): void {
  if (token === undefined || context.tokenToId(token) !== undefined) return;
  throw new ModelLoadError(`${context.configPath}: ${key} ${quoteValue(token)} is not a token of ${context.path}, so ${flag} cannot add it; fix ${key}, or set ${flag} to false.`, {
    path: context.configPath,
  });
}
