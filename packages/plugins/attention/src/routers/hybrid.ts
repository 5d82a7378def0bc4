import type { ForwardObservation, KvSelection, RoutingContext } from '@weft/core';
import { sumHeads, topWithRecent, windowSlots } from '../select/slots.js';
import { BudgetRouter, shared } from './base.js';
import { KeyNorms, negate } from './key-norm.js';

/** What `hybrid` ranks older tokens by when no analyzer published an importance. */
export type HybridFallback = 'key-norm' | 'recency';

/**
 * Local window + global tokens (Longformer/BigBird-style "local + pinned global"): keeps the
 * `window` newest tokens plus the `budget - window` older tokens with the highest importance.
 * Importance comes from any analyzer that publishes it (`RoutingContext.importance`, e.g. this
 * package's `attention-importance`); without one, `fallback` decides: `key-norm` (default:
 * lowest mean key norm, summed over heads; in a batch, the mean over the rows still generating,
 * without their padding) or `recency` (then it is a plain window). The
 * importance is one value per slot, so the selection is shared by all heads.
 */
export class HybridRouter extends BudgetRouter {
  readonly name = 'hybrid';
  private readonly norms = new KeyNorms('hybrid');

  constructor(
    readonly budget: number,
    readonly window: number,
    readonly fallback: HybridFallback,
    positions?: 'absolute' | 'cache',
  ) {
    super(positions);
  }

  override observeSignals(observation: ForwardObservation): void {
    if (this.fallback === 'key-norm') this.norms.observe(observation);
  }

  choose(context: RoutingContext): KvSelection | undefined {
    const importance = context.importance;
    if (importance !== undefined && importance.length !== context.cacheLength) {
      throw new Error(`the published importance has ${importance.length} values but the cache holds ${context.cacheLength} slots`);
    }
    this.chosenPolicy = importance ? 'importance' : this.fallback;
    if (context.cacheLength <= this.budget) return undefined;
    if (importance) return shared(topWithRecent(importance, this.budget, this.window));
    if (this.fallback === 'recency') return shared(windowSlots(context.cacheLength, this.budget));
    return shared(topWithRecent(sumHeads(negate(this.norms.current(context))), this.budget, this.window));
  }
}
