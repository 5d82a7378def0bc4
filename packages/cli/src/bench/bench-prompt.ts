import type { Tokenizer } from '@weft/core';
import { InterruptedError } from '../errors.js';

/** The story sentence the benchmark prompt repeats: plain text the story model continues fluently. */
export const BENCH_SENTENCE = 'Once upon a time, there was a little girl named Lily. She liked to play in the park with her dog. ';

/**
 * The first `count` ids of the sentence repeated (with the tokenizer's special tokens, e.g. BOS).
 * The text grows geometrically, so the encoding work stays linear in `count`; an aborted
 * `signal` stops it with {@link InterruptedError}.
 */
export function benchPromptIds(tokenizer: Tokenizer, count: number, signal?: AbortSignal): number[] {
  const once = tokenizer.encode(BENCH_SENTENCE).length;
  // Repetitions that should reach `count` ids (a repetition may encode slightly differently at the
  // join); doubled until they do.
  let repeats = Math.max(1, Math.ceil(count / Math.max(1, once - 1)));
  let previous = -1;
  for (;;) {
    if (signal?.aborted) throw new InterruptedError();
    const ids = tokenizer.encode(BENCH_SENTENCE.repeat(repeats));
    if (ids.length >= count) return ids.slice(0, count);
    // A tokenizer for which more text gives no more ids would never get there.
    if (ids.length <= previous) throw new Error(`the tokenizer encodes the bench sentence repeated to at most ${ids.length} ids`);
    previous = ids.length;
    repeats *= 2;
  }
}
