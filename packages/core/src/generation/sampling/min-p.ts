/**
 * Min-p truncation: drops tokens whose probability is below `minP` times the top probability (a
 * token exactly at that floor stays), as transformers' min-p does on the temperature-scaled
 * distribution. NaN logits are dropped; `minP` of 0 (or less) changes nothing.
 */
export function applyMinP(logits: Float32Array, minP: number): void {
  if (minP <= 0) return;
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  if (!(max > -Infinity && max < Infinity)) return;
  // p_i / p_max = exp(l_i - max): compared in log space, without a softmax of the row.
  const floor = max + Math.log(minP);
  for (let i = 0; i < logits.length; i++) if (!(logits[i]! >= floor)) logits[i] = -Infinity;
}
