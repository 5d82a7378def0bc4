import type { Tokenizer } from '../../spec/tokenizer.js';

/**
 * Ids of the stop strings that are the content of a special token: a token decoding skips (its
 * text is '' with special tokens skipped, and the stop string without), such as Gemma's
 * `<end_of_turn>` or ChatML's `<|im_end|>`. Generated text never holds them, so they cannot be
 * matched as text; the id itself ends the row. Undefined when no stop string names one.
 */
export function specialStopIds(tokenizer: Tokenizer, stops: readonly string[]): ReadonlySet<number> | undefined {
  let ids: Set<number> | undefined;
  for (const stop of stops) {
    const id = tokenizer.tokenToId(stop);
    if (id === undefined || ids?.has(id)) continue;
    if (tokenizer.decode([id]) !== '' || tokenizer.decode([id], { skipSpecialTokens: false }) !== stop) continue;
    (ids ??= new Set()).add(id);
  }
  return ids;
}
