import { InvalidOptionsError, tensorFloat32, type ForwardObservation, type KvSelection, type RoutingContext } from '@weft/core';
import { accumulateAttention } from '../select/scores.js';
import { compact } from '../select/slots.js';
import { keptPerHead, TopWithRecentRouter } from './base.js';

/**
 * The error a router (or, with `option: 'analyzers'`, an analyzer) needing attention
 * probabilities raises on a graph without them.
 */
export function noAttentionsError(name: string, option: 'router' | 'analyzers' = 'router'): InvalidOptionsError {
  const instead = option === 'router' ? 'or use "key-norm", which needs only the cached keys' : 'or leave it out (hybrid then ranks by key norms)';
  return new InvalidOptionsError(
    `"${name}" needs attention probabilities, but this model's graph has no attentions.{i} outputs. ` +
      `Load a graph that exports them (e.g. weft.load(dir, { onnxFile: 'onnx/model_with_attentions.onnx' })), ${instead}.`,
    { option },
  );
}

/**
 * Per-slot attention mass, per key/value head, aligned with the store's slots: accumulated in
 * `observe` from `attentions.{i}` (summed over layers, the query heads of each group, query
 * rows and batch rows), compacted on every eviction. Rows that have finished (fed padding) and
 * the queries of a row's left padding add nothing.
 */
export class AttentionScores {
  scores: Float64Array[] = [];

  constructor(private readonly router: string) {}

  observe(observation: ForwardObservation): void {
    const names = observation.layout.attentionNames;
    if (names.length === 0) throw noAttentionsError(this.router);
    const heads = observation.layout.numKvHeads;
    for (const [i, name] of names.entries()) {
      const tensor = observation.outputs[name];
      if (!tensor) throw new Error(`the step did not return ${name}`);
      const [, , seq, total] = tensor.dims as [number, number, number, number];
      if (i === 0) {
        const past = total - seq;
        // A new run (or a restart after failover) starts from an empty cache.
        if (this.scores.length !== heads || this.scores[0]!.length !== past) this.scores = Array.from({ length: heads }, () => new Float64Array(past));
        this.scores = this.scores.map((s) => {
          const grown = new Float64Array(total);
          grown.set(s);
          return grown;
        });
      }
      accumulateAttention(this.scores, tensorFloat32(tensor), tensor.dims, undefined, observation);
    }
  }

  /** Scores for the current slots; throws when `observe` did not see this step. */
  current(context: RoutingContext): Float64Array[] {
    if (this.scores[0]?.length !== context.cacheLength) {
      throw new Error(`${this.router} tracks ${this.scores[0]?.length ?? 0} slots but the cache holds ${context.cacheLength} (observe did not run for this step)`);
    }
    return this.scores;
  }

  commit(selection: KvSelection | undefined, context: RoutingContext): void {
    if (!selection || this.scores.length === 0) return;
    const kept = keptPerHead(selection, context.layout.numKvHeads);
    this.scores = this.scores.map((s, h) => compact(s, kept[h]!, (n) => new Float64Array(n)));
  }
}

/**
 * H2O (Zhang et al. 2023): keeps the `recent` newest tokens plus the `budget - recent` older
 * tokens that received the most attention so far ("heavy hitters"), per key/value head (equal
 * counts, different positions) for a single row or a batch without padding, shared (scores
 * summed over heads) for padded batches.
 * The cache is shared by all layers, so scores are summed over layers; in a batch, over the
 * queries of the rows still generating (not a row's padding, nor the padding a finished row is fed).
 */
export class HeavyHitterRouter extends TopWithRecentRouter {
  readonly name = 'heavy-hitter';
  private readonly scores = new AttentionScores('heavy-hitter');

  override observeSignals(observation: ForwardObservation): void {
    this.scores.observe(observation);
  }

  protected slotScores(context: RoutingContext): readonly Float64Array[] {
    return this.scores.current(context);
  }

  override commit(selection: KvSelection | undefined, context: RoutingContext): void {
    this.scores.commit(selection, context);
  }
}
