/**
 * Scales logits by 1 / `temperature` (> 0), after shifting them so the largest is 0. The shift
 * leaves every probability unchanged, and keeps tiny temperatures finite: (logit - max) / T only
 * grows towards -Infinity, so a temperature near 0 approaches greedy decoding instead of
 * overflowing float32 (which made every scaled logit ±Infinity).
 */
export function applyTemperature(logits: Float32Array, temperature: number): void {
  if (temperature === 1) return;
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  if (!Number.isFinite(max)) return; // nothing finite to scale (every logit masked, or +Infinity)
  for (let i = 0; i < logits.length; i++) logits[i] = (logits[i]! - max) / temperature;
}
