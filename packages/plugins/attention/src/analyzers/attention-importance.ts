import type { Analyzer, ForwardObservation } from '@weft/core';
import { tensorFloat32 } from '@weft/core';
import { noAttentionsError } from '../routers/heavy-hitter.js';
import { rowActive } from '../select/scores.js';

/**
 * Publishes a per-slot importance (for `hybrid` and any router reading
 * `RoutingContext.importance`): the attention each cached slot receives from the newest query
 * of the step (the last fed token of each batch row), summed over layers, query heads and the
 * batch rows still generating (a finished row, fed padding, is left out). Stateless, so `hybrid` + this analyzer keeps the tokens the newest query attends to most
 * (as TOVA does) rather than H2O's running sum; in a prefill, the earlier prompt rows do not
 * count (their column sums would favour the oldest tokens, which every row can see). Needs a
 * graph with `attentions.{i}` outputs. Emits no `analysis` events itself.
 */
export class AttentionImportanceAnalyzer implements Analyzer {
  readonly name = 'attention-importance';
  private latest: Float32Array | undefined;

  observe(observation: ForwardObservation): undefined {
    const names = observation.layout.attentionNames;
    if (names.length === 0) throw noAttentionsError('attention-importance', 'analyzers');
    let sum: Float64Array | undefined;
    for (const name of names) {
      const tensor = observation.outputs[name];
      if (!tensor) throw new Error(`the step did not return ${name}`);
      const [batch, heads, seq, total] = tensor.dims as [number, number, number, number];
      sum ??= new Float64Array(total);
      if (sum.length !== total) throw new Error(`${name} covers ${total} slots but the first layer covers ${sum.length}`);
      const data = tensorFloat32(tensor);
      // Row `seq - 1` of every (batch row, head): the newest query (never padding: a prompt ends
      // with a real token).
      for (let bh = 0; bh < batch * heads; bh++) {
        if (!rowActive(observation, Math.floor(bh / heads))) continue;
        const base = (bh * seq + seq - 1) * total;
        for (let t = 0; t < total; t++) sum[t]! += data[base + t]!;
      }
    }
    this.latest = sum ? Float32Array.from(sum) : undefined;
    return undefined;
  }

  importance(): Float32Array | undefined {
    return this.latest;
  }
}
