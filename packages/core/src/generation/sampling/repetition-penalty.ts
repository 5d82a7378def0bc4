/**
 * CTRL-style repetition penalty: every token already present in `seen` has its logit divided by
 * `penalty` when positive and multiplied by it when negative. Applied once per distinct token.
 */
export function applyRepetitionPenalty(logits: Float32Array, seen: Iterable<number>, penalty: number): void {
  if (penalty === 1) return;
  penalizeDistinct(logits, new Set(seen), penalty);
}

/** {@link applyRepetitionPenalty} for ids already distinct (ids outside the vocabulary are skipped). */
export function penalizeDistinct(logits: Float32Array, ids: ReadonlySet<number>, penalty: number): void {
  for (const id of ids) {
    if (!(id >= 0 && id < logits.length)) continue;
    const v = logits[id]!;
    logits[id] = v > 0 ? v / penalty : v * penalty;
  }
}
