import type { ForwardObservation, RoutingContext } from '@weft/core';
import { tensorFloat32 } from '@weft/core';
import { keyNorms } from '../select/scores.js';
import { TopWithRecentRouter } from './base.js';

/**
 * Mean L2 norm (over layers, summed over batch rows) of every cached key per key/value head,
 * read from `present.{i}.key` in `observe`; its length is the store's slot count after the
 * step. Keys never change once cached, and RoPE preserves norms.
 */
export function meanKeyNorms(observation: ForwardObservation): Float64Array[] {
  const names = observation.layout.presentKeyNames;
  let out: Float64Array[] | undefined;
  for (const name of names) {
    const tensor = observation.outputs[name];
    if (!tensor) throw new Error(`the step did not return ${name}`);
    out = keyNorms(tensorFloat32(tensor), tensor.dims, out);
  }
  if (!out) return [];
  for (const head of out) for (let i = 0; i < head.length; i++) head[i]! /= names.length;
  return out;
}

/** Negated copies (higher = keep) for the top-k helpers. */
export const negate = (lists: readonly Float64Array[]): Float64Array[] => lists.map((l) => l.map((v) => -v));

/**
 * L2-norm eviction (Devoto et al. 2024): keeps the `recent` newest tokens plus the older tokens
 * whose keys have the lowest L2 norm (low-norm keys draw the most attention), per key/value
 * head for a single row, shared (norms summed over heads) for batches. Needs no attention
 * outputs. The cache is shared by all layers, so norms are averaged over layers.
 */
export class KeyNormRouter extends TopWithRecentRouter {
  readonly name = 'key-norm';
  private norms: Float64Array[] = [];

  override observeSignals(observation: ForwardObservation): void {
    this.norms = meanKeyNorms(observation);
  }

  protected slotScores(context: RoutingContext): readonly Float64Array[] {
    if (this.norms[0]?.length !== context.cacheLength) {
      throw new Error(`key-norm saw ${this.norms[0]?.length ?? 0} keys but the cache holds ${context.cacheLength} (observe did not run for this step)`);
    }
    return negate(this.norms);
  }
}
