/**
 * CTRL-style repetition penalty: every token already present in `seen` has its logit divided by
 * `penalty` when positive and multiplied by it when negative. Applied once per distinct token.
 */
export function applyRepetitionPenalty(logits: Float32Array, seen: Iterable<number>, penalty: number): void {
  if (penalty === 1) return;
  const done = new Set<number>();
  for (const id of seen) {
    if (done.has(id) || id < 0 || id >= logits.length) continue;
    done.add(id);
    const v = logits[id]!;
    logits[id] = v > 0 ? v / penalty : v * penalty;
  }
}
