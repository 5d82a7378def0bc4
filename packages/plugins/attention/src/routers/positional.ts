import type { KvSelection, RoutingContext } from '@weft/core';
import { sinkWindowSlots, stridedSlots, windowSlots } from '../select/slots.js';
import { BudgetRouter, canSelectPerHead, perHead, shared } from './base.js';

type Positions = 'absolute' | 'cache';

/** Keeps every slot (the model sees its whole context). */
export class FullRouter extends BudgetRouter {
  readonly name = 'full';
  /** It chooses from slot positions alone: it can route a cache an earlier request filled (a prompt cache). */
  readonly resumesCache = true;
  readonly budget = Infinity;
  choose(): KvSelection | undefined {
    return undefined;
  }
}

/** The last `window` tokens (sliding window). */
export class WindowRouter extends BudgetRouter {
  readonly name = 'window';
  /** It chooses from slot positions alone: it can route a cache an earlier request filled (a prompt cache). */
  readonly resumesCache = true;
  constructor(
    readonly budget: number,
    positions?: Positions,
  ) {
    super(positions);
  }
  choose(context: RoutingContext): KvSelection | undefined {
    return shared(windowSlots(context.cacheLength, this.budget));
  }
}

/** StreamingLLM: the first `sinks` tokens plus the last `window`. */
export class SinkWindowRouter extends BudgetRouter {
  readonly name = 'sink-window';
  /** It chooses from slot positions alone: it can route a cache an earlier request filled (a prompt cache). */
  readonly resumesCache = true;
  readonly budget: number;
  constructor(
    readonly sinks: number,
    readonly window: number,
    positions?: Positions,
  ) {
    super(positions);
    this.budget = sinks + window;
  }
  choose(context: RoutingContext): KvSelection | undefined {
    return shared(sinkWindowSlots(context.cacheLength, this.sinks, this.window));
  }
}

/** A local window plus every `stride`-th older position, up to the budget. */
export class StridedRouter extends BudgetRouter {
  readonly name = 'strided';
  /** It chooses from slot positions alone: it can route a cache an earlier request filled (a prompt cache). */
  readonly resumesCache = true;
  constructor(
    readonly budget: number,
    readonly window: number,
    readonly stride: number,
    positions?: Positions,
  ) {
    super(positions);
  }
  choose(context: RoutingContext): KvSelection | undefined {
    if (context.cacheLength <= this.budget) return undefined;
    const lists = context.slotPositions.map((p) => stridedSlots(p, this.budget, this.window, this.stride)!);
    const first = lists[0]!;
    const same = lists.every((l) => l.length === first.length && l.every((s, i) => s === first[i]));
    if (same) return shared(first);
    // Heads hold different positions (an earlier per-head choice, e.g. under content-aware):
    // per head where allowed, else head 0's choice for all.
    if (canSelectPerHead(context) && lists.every((l) => l.length === first.length)) return perHead(lists);
    return shared(first);
  }
}
