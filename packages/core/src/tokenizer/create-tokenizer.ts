import { GuardedTokenizer } from './guarded-tokenizer.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { PluginError } from '../errors/plugin-error.js';
import { runStage } from '../generation/stage-runner.js';
import { callerError } from '../runtime/extension-point.js';
import type { AdapterRegistry } from '../spec/registry.js';
import type { Tokenizer, TokenizerFiles } from '../spec/tokenizer.js';
import { describeCause, quoteValue } from '../util/describe-cause.js';

/** The owner core registers its own adapters under. */
const CORE_OWNER = '@weft/core';

const METHODS = ['encode', 'decode', 'applyChatTemplate', 'tokenToId'] as const;

/**
 * The tokenizer of a model: the registry's `tokenizer` entry named `name`, or the highest-priority
 * one, created from the folder's files. A `ModelLoadError` or `InvalidOptionsError` from the entry
 * (e.g. a missing `tokenizer.json`) passes through; any other failure, or a result that is not a tokenizer,
 * becomes a `PluginError` naming the plugin that registered the entry. An unknown name fails
 * with an `AdapterResolutionError` listing the registered tokenizers.
 */
export function createTokenizer(registry: AdapterRegistry, name: string | undefined, files: TokenizerFiles): Tokenizer {
  if (name !== undefined && (typeof name !== 'string' || name === '')) {
    throw new InvalidOptionsError(`tokenizer must be the name of a registered tokenizer, e.g. "huggingface" (got ${quoteValue(name)}).`, { option: 'tokenizer' });
  }
  const entry = registry.resolve('tokenizer', name === undefined ? undefined : { name });
  const stage = `tokenizer "${entry.name}" create`;
  let created: unknown;
  try {
    created = runStage(entry.owner, stage, () => entry.create(files as never));
  } catch (error) {
    throw callerError(error, entry.owner) ?? error;
  }
  const problem = tokenizerProblem(created);
  if (problem !== undefined) throw new PluginError(entry.owner, stage, `create() returned ${problem}`);
  // Core's own tokenizer is not wrapped: it is not plugin code, and it sits on the path to every token.
  return entry.owner === CORE_OWNER ? (created as Tokenizer) : new GuardedTokenizer(created as Tokenizer, entry.owner, entry.name);
}

/** Why `value` is not a usable {@link Tokenizer}, or undefined when it is. */
function tokenizerProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return `${quoteValue(value)}, not a tokenizer`;
  try {
    const t = value as Record<string, unknown>;
    const missing = METHODS.filter((m) => typeof t[m] !== 'function');
    if (missing.length > 0) return `an object without ${missing.map((m) => `${m}()`).join(', ')}, not a tokenizer`;
    const vocabSize = t['vocabSize'];
    if (typeof vocabSize !== 'number' || !Number.isInteger(vocabSize) || vocabSize < 1) {
      return `a tokenizer whose vocabSize is ${quoteValue(vocabSize)} (expected a positive integer)`;
    }
    if (t['tokenPiece'] !== undefined && typeof t['tokenPiece'] !== 'function') return 'a tokenizer whose tokenPiece is not a function';
  } catch (cause) {
    return `a tokenizer that could not be read (${describeCause(cause)})`;
  }
  return undefined;
}
