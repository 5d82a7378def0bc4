import type { Tokenizer } from '../spec/tokenizer.js';

/** Per tokenizer: each id's special-token content, '' for any other id (worked out once per id). */
const contents = new WeakMap<Tokenizer, Map<number, string>>();

/**
 * A lookup of each id's content when it is a special token that `tokenizer.decode` skips (it
 * decodes to nothing, and to this text with special tokens kept: Gemma's `<end_of_turn>`), else ''
 * (ordinary tokens, and ids outside the vocabulary). Cached per tokenizer; callers that ask per
 * token keep the lookup.
 */
export function specialContentOf(tokenizer: Tokenizer): (id: number) => string {
  let known = contents.get(tokenizer);
  if (!known) contents.set(tokenizer, (known = new Map()));
  const cache = known;
  return (id) => {
    let content = cache.get(id);
    if (content === undefined) {
      const special = Number.isInteger(id) && id >= 0 && id < tokenizer.vocabSize && tokenizer.decode([id]) === '';
      content = special ? tokenizer.decode([id], { skipSpecialTokens: false }) : '';
      cache.set(id, content);
    }
    return content;
  };
}
