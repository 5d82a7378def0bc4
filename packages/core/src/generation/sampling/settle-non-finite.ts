/**
 * Makes a row safe to sample, as greedy decoding already treats it: NaN logits become -Infinity
 * (never drawn), and when any logit is +Infinity those tokens share all the probability (each
 * becomes 0, every other one -Infinity). Without this, one NaN or +Infinity made the softmax NaN
 * everywhere and the draw fell through to the last token id.
 */
export function settleNonFinite(logits: Float32Array): void {
  let infinite = false;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (v !== v) logits[i] = -Infinity;
    else if (v === Infinity) infinite = true;
  }
  if (!infinite) return;
  for (let i = 0; i < logits.length; i++) logits[i] = logits[i] === Infinity ? 0 : -Infinity;
}
