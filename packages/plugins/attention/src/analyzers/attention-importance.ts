import type { Analyzer, ForwardObservation } from '@weft/core';
import { tensorFloat32 } from '@weft/core';
import { noAttentionsError } from '../routers/heavy-hitter.js';
import { accumulateAttention } from '../select/scores.js';

/**
 * Publishes a per-slot importance (for `hybrid` and any router reading
 * `RoutingContext.importance`): the attention each cached slot received in this step, summed
 * over layers, heads, query rows and batch rows. Stateless, so `hybrid` + this analyzer keeps
 * the tokens the newest queries attend to most (as TOVA does) rather than H2O's running sum.
 * Needs a graph with `attentions.{i}` outputs. Emits no `analysis` events itself.
 */
export class AttentionImportanceAnalyzer implements Analyzer {
  readonly name = 'attention-importance';
  private latest: Float32Array | undefined;

  observe(observation: ForwardObservation): undefined {
    const names = observation.layout.attentionNames;
    if (names.length === 0) throw noAttentionsError('attention-importance');
    let sum: Float64Array | undefined;
    for (const name of names) {
      const tensor = observation.outputs[name];
      if (!tensor) throw new Error(`the step did not return ${name}`);
      sum ??= new Float64Array(tensor.dims[3]!);
      // One "head" bucket: every query head sums into it.
      accumulateAttention([sum], tensorFloat32(tensor), tensor.dims);
    }
    this.latest = sum ? Float32Array.from(sum) : undefined;
    return undefined;
  }

  importance(): Float32Array | undefined {
    return this.latest;
  }
}
