import type { Tokenizer } from '@weft/core';

/** The story sentence the benchmark prompt repeats: plain text, so greedy decoding rarely ends early. */
export const BENCH_SENTENCE = 'Once upon a time, there was a little girl named Lily. She liked to play in the park with her dog. ';

/** The first `count` ids of the sentence repeated (with the tokenizer's special tokens, e.g. BOS). */
export function benchPromptIds(tokenizer: Tokenizer, count: number): number[] {
  let text = BENCH_SENTENCE;
  let ids = tokenizer.encode(text);
  while (ids.length < count) {
    text += BENCH_SENTENCE;
    ids = tokenizer.encode(text);
  }
  return ids.slice(0, count);
}
