/** An n-gram of `ids` that occurred before: the occurrence's first and last index, and its ids. */
export interface RepeatedNgram {
  readonly start: number;
  readonly end: number;
  readonly ngram: string;
}

/**
 * Every occurrence of an n-gram of `size` ids that repeats an earlier one and ends at index `from`
 * or later (a prompt's own repeats are not the output's), in order; by the scan the processor avoids.
 */
export function repeatedNgrams(ids: readonly number[], size: number, from = 0): RepeatedNgram[] {
  const seen = new Set<string>();
  const repeats: RepeatedNgram[] = [];
  for (let start = 0; start + size <= ids.length; start++) {
    const ngram = ids.slice(start, start + size).join(',');
    if (seen.has(ngram) && start + size - 1 >= from) repeats.push({ start, end: start + size - 1, ngram });
    seen.add(ngram);
  }
  return repeats;
}
