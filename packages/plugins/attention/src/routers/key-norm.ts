import type { ForwardObservation, RoutingContext } from '@weft/core';
import { tensorFloat32 } from '@weft/core';
import { keyNorms, meanOverRows, rowKeyNorms } from '../select/scores.js';
import { TopWithRecentRouter } from './base.js';

/**
 * Mean L2 norm (over layers, summed over batch rows) of every cached key per key/value head,
 * read from `present.{i}.key` in `observe`; its length is the store's slot count after the
 * step. Keys never change once cached, and RoPE preserves norms. Padding and finished rows
 * count like the others: {@link KeyNorms} leaves them out.
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

/**
 * The key norms of one step per batch row (mean over layers), kept from `observe` to `select`:
 * only there do the slots' positions tell which slots are a row's padding.
 */
export class KeyNorms {
  private byRow: Float64Array[][] = [];

  constructor(private readonly router: string) {}

  observe(observation: ForwardObservation): void {
    const names = observation.layout.presentKeyNames;
    let out: Float64Array[][] | undefined;
    for (const name of names) {
      const tensor = observation.outputs[name];
      if (!tensor) throw new Error(`the step did not return ${name}`);
      out = rowKeyNorms(tensorFloat32(tensor), tensor.dims, out);
    }
    for (const row of out ?? []) for (const head of row) for (let i = 0; i < head.length; i++) head[i]! /= names.length;
    this.byRow = out ?? [];
  }

  /**
   * Per key/value head, each current slot's mean norm over the rows still generating in which it
   * is not padding (a single row: its own norms); `Infinity` (evicted first) where no such row
   * has it (`context` says which rows are padded or finished). Throws when `observe` did not see this step.
   */
  current(context: RoutingContext): Float64Array[] {
    const slots = this.byRow[0]?.[0]?.length ?? 0;
    if (slots !== context.cacheLength) {
      throw new Error(`${this.router} saw ${slots} keys but the cache holds ${context.cacheLength} (observe did not run for this step)`);
    }
    return meanOverRows(this.byRow, context.slotPositions, context, Infinity);
  }
}

/** Negated copies (higher = keep) for the top-k helpers. */
export const negate = (lists: readonly Float64Array[]): Float64Array[] => lists.map((l) => l.map((v) => -v));

/**
 * L2-norm eviction (Devoto et al. 2024): keeps the `recent` newest tokens plus the older tokens
 * whose keys have the lowest L2 norm (low-norm keys draw the most attention), per key/value
 * head for a single row or a batch without padding, shared (norms summed over heads) for padded
 * batches. Needs no attention outputs. The cache is shared by all layers, so norms are averaged
 * over layers; in a batch, over the rows still generating, without a row's padding slots.
 */
export class KeyNormRouter extends TopWithRecentRouter {
  readonly name = 'key-norm';
  private readonly norms = new KeyNorms('key-norm');

  override observeSignals(observation: ForwardObservation): void {
    this.norms.observe(observation);
  }

  protected slotScores(context: RoutingContext): readonly Float64Array[] {
    return negate(this.norms.current(context));
  }
}
