import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import type { GenerationConfig } from '../model/generation-config.js';
import type { GenerationRequest } from '../spec/request.js';
import { quoteValue } from '../util/describe-cause.js';
import { DEFAULT_MAX_TOKENS } from './request-limits.js';

/**
 * The `maxTokens` of a request that gives none, from generation_config.json: `max_new_tokens`;
 * else 256, shortened to `max_length` less the longest prompt (the batch is padded to it, and
 * transformers counts the padded length) when that leaves fewer, but never below 1 (Weft's choice: a prompt that already reaches
 * `max_length` still gets one token, where current transformers raises an error). `max_length` never
 * lengthens the default: files often copy the context length there (models/story: 1024), and a
 * request that wants more says so with `maxTokens`. The context still caps the result.
 */
export function defaultMaxTokens(config: GenerationConfig, longestPrompt: number): number {
  if (config.maxNewTokens !== undefined) return config.maxNewTokens;
  if (config.maxLength !== undefined) return Math.max(1, Math.min(DEFAULT_MAX_TOKENS, config.maxLength - longestPrompt));
  return DEFAULT_MAX_TOKENS;
}

/**
 * New tokens before end-of-sequence ids may be picked: the request's `minTokens` (checked here),
 * else generation_config.json's `min_new_tokens`, else its `min_length` less the longest prompt,
 * else 0.
 */
export function resolveMinTokens(request: GenerationRequest, config: GenerationConfig, longestPrompt: number): number {
  const { minTokens } = request;
  if (minTokens !== undefined) {
    if (!(typeof minTokens === 'number' && Number.isSafeInteger(minTokens) && minTokens >= 0)) {
      throw new InvalidOptionsError(`minTokens must be an integer >= 0 (got ${quoteValue(minTokens)}).`, { option: 'minTokens' });
    }
    return minTokens;
  }
  if (config.minNewTokens !== undefined) return config.minNewTokens;
  return config.minLength === undefined ? 0 : Math.max(0, config.minLength - longestPrompt);
}
