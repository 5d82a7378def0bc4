/**
 * The candidates the user most likely meant by `given` (a misspelled flag, command or name): those
 * nearest to it within two edits (one for words of up to four characters), all of them when
 * several are as near (`int3`: `int8` and `int4`); else the only candidate that starts with
 * `given` when `given` has at least three characters past any dashes; else none.
 */
export function closestMatches(given: string, candidates: readonly string[]): string[] {
  const word = given.replace(/^-+/, '');
  let best: string[] = [];
  let bestDistance = word.length <= 4 ? 1 : 2;
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate.replace(/^-+/, ''));
    if (distance === 0 || distance > bestDistance) continue;
    if (distance < bestDistance || best.length === 0) best = [];
    if (!best.includes(candidate)) best.push(candidate);
    bestDistance = distance;
  }
  if (best.length > 0) return best;
  const prefixed = word.length >= 3 ? candidates.filter((c) => c.replace(/^-+/, '').startsWith(word)) : [];
  return prefixed.length === 1 ? [prefixed[0]!] : [];
}

/** `"; did you mean X?"` (or `X or Y?` when both are as close) for {@link closestMatches}' answer, or nothing. */
export function didYouMean(given: string, candidates: readonly string[]): string {
  const matches = closestMatches(given, candidates);
  if (matches.length === 0 || matches.length > 3) return '';
  return `; did you mean ${matches.length === 1 ? matches[0] : `${matches.slice(0, -1).join(', ')} or ${matches.at(-1)}`}?`;
}

/** Levenshtein distance (insertions, deletions, substitutions), with a swap of neighbours as one edit. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}

/**
 * The line for a name a flag gave that nothing is registered under, with the closest registered
 * name and all of them: `--kv: unknown store "int3"; did you mean int4? (fp32, fp16, int8, int4,
 * kivi, temporal)`.
 *
 * @param noun what the flag names (`store`, `router`, `backend`…)
 * @param names the registered names, in the order to list them
 */
export function unknownName(flag: string, noun: string, given: string, names: readonly string[]): string {
  const what = `${flag}: unknown ${noun} ${JSON.stringify(given)}`;
  if (names.length === 0) return `${what}; none are registered (a --plugin can add one)`;
  return `${what}${didYouMean(given, names)} (${names.join(', ')})`;
}
