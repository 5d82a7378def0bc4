/**
 * The candidate the user most likely meant by `given` (a misspelled flag or command), or undefined
 * when none is close: within two edits (one for words of up to four characters), or the only
 * candidate that starts with `given` when `given` has at least three characters past any dashes.
 */
export function closest(given: string, candidates: readonly string[]): string | undefined {
  const word = given.replace(/^-+/, '');
  let best: string | undefined;
  let bestDistance = word.length <= 4 ? 1 : 2;
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate.replace(/^-+/, ''));
    if (distance > 0 && distance <= bestDistance && (best === undefined || distance < bestDistance)) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best !== undefined) return best;
  const prefixed = word.length >= 3 ? candidates.filter((c) => c.replace(/^-+/, '').startsWith(word)) : [];
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** `"; did you mean X?"` for {@link closest}'s answer, or nothing. */
export function didYouMean(given: string, candidates: readonly string[]): string {
  const match = closest(given, candidates);
  return match === undefined ? '' : `; did you mean ${match}?`;
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
