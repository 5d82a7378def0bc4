import { describeCause, onRejection, type AttentionRouter, type ForwardObservation, type KvSelection, type RoutingContext } from '@weft/core';
import { linkDecisions } from '../analyzers/router-decisions.js';
import { perHeadTopWithRecent, sumHeads, topWithRecent } from '../select/slots.js';

/** What a router decided after one step (published by the `router-decisions` analyzer). */
export interface RouterDecision {
  /** The router instance's name (`sink-window`, `content-aware`…). */
  readonly router: string;
  /** Step after whose forward pass the decision was made; it shapes the cache of step + 1. */
  readonly step: number;
  /** The method that chose the slots (differs from `router` for `content-aware`). */
  readonly policy: string;
  /** Why `content-aware` picked `policy`. */
  readonly reason?: string;
  /** Signals `content-aware` measured for this decision. */
  readonly signals?: { readonly entropy: number; readonly repetition: number; readonly cacheLength: number; readonly budget: number };
  /** Slots before the decision, kept, evicted. */
  readonly cacheLength: number;
  readonly kept: number;
  readonly evicted: number;
  readonly selection: 'none' | 'shared' | 'per-head';
}

/**
 * Common shape of this package's routers: `select` = `choose` (pure decision) + `commit` (every
 * per-slot state follows the applied selection). `content-aware` uses the two halves to keep
 * the routers it does not pick in step with the cache.
 */
export abstract class BudgetRouter implements AttentionRouter {
  readonly specificationVersion = 'v1' as const;
  abstract readonly name: string;
  readonly positions: 'absolute' | 'cache';
  /** Tokens this router keeps in the cache between steps (`Infinity` for `full`). */
  abstract readonly budget: number;
  /** The latest decision (also offered to a linked `router-decisions` analyzer). */
  lastDecision: RouterDecision | undefined;
  private readonly listeners = new Set<(decision: RouterDecision) => void>();
  /** Whether a listener failure was reported in this run (reset by each run's step-0 decision). */
  private listenerFailureReported = false;
  /** Set by `choose` when the method used differs per step (e.g. `hybrid`'s score source). */
  protected chosenPolicy: string | undefined;

  constructor(positions: 'absolute' | 'cache' = 'absolute') {
    this.positions = positions;
  }

  /**
   * Core's per-step call: links a `router-decisions` analyzer of the same request (it saw this
   * very observation just before), then reads the step's signals.
   */
  observe(observation: ForwardObservation): void {
    linkDecisions(observation, this);
    this.observeSignals(observation);
  }

  /** Reads what the router needs from a step (attentions, keys, logits); no-op by default. */
  observeSignals(_observation: ForwardObservation): void {}

  select(context: RoutingContext): KvSelection | undefined {
    const selection = this.choose(context);
    this.commit(selection, context);
    this.publish(decision(this.name, this.chosenPolicy ?? this.name, context, selection));
    return selection;
  }

  /** The slots to keep after this step, without changing any state. */
  abstract choose(context: RoutingContext): KvSelection | undefined;

  /** Updates per-slot state after `selection` (this router's or another's) was applied. */
  commit(_selection: KvSelection | undefined, _context: RoutingContext): void {}

  /**
   * Calls `listener` with every decision from now on, after it is recorded in `lastDecision`;
   * returns the unsubscribe function. A listener that throws, or returns a promise that rejects,
   * does not change the generation (the other listeners still get the decision, the stream goes
   * on): the first such failure of a run (one generation or perplexity pass) is reported with
   * `console.warn`, later ones of that run are not. Catch inside the listener to handle its
   * errors yourself.
   */
  onDecision(listener: (decision: RouterDecision) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Records `d` in `lastDecision`, then hands it to every listener; never throws. */
  protected publish(d: RouterDecision): void {
    this.lastDecision = d;
    // Core asks every run's router after step 0 first: a new run may report a failure again.
    if (d.step === 0) this.listenerFailureReported = false;
    for (const listener of this.listeners) {
      let result: unknown;
      try {
        result = listener(d);
      } catch (error) {
        this.reportListenerFailure(d, error);
        continue;
      }
      onRejection(result, (error) => this.reportListenerFailure(d, error));
    }
  }

  /** Warns about the first listener failure of a run; never throws. */
  private reportListenerFailure(d: RouterDecision, error: unknown): void {
    if (this.listenerFailureReported) return;
    this.listenerFailureReported = true;
    try {
      globalThis.console?.warn(
        `@weft/plugin-attention: an onDecision listener of the "${d.router}" router failed on the decision after step ${d.step} (${describeCause(error)}). The decision is still on router.lastDecision and generation went on; later failures of its listeners in this run are not reported.`,
        error,
      );
    } catch {
      // A console that cannot be written to: generation goes on regardless.
    }
  }
}

/** A decision record for `selection` made on `context`. */
export function decision(
  router: string,
  policy: string,
  context: RoutingContext,
  selection: KvSelection | undefined,
  extra: Pick<RouterDecision, 'reason' | 'signals'> = {},
): RouterDecision {
  const kept = selection === undefined ? context.cacheLength : selection.kind === 'shared' ? selection.slots.length : (selection.slots[0]?.length ?? 0);
  return {
    router,
    step: context.step,
    policy,
    ...extra,
    cacheLength: context.cacheLength,
    kept,
    evicted: context.cacheLength - kept,
    selection: selection?.kind ?? 'none',
  };
}

export const shared = (slots: readonly number[] | undefined): KvSelection | undefined => (slots === undefined ? undefined : { kind: 'shared', slots });

export const perHead = (slots: readonly (readonly number[])[] | undefined): KvSelection | undefined =>
  slots === undefined ? undefined : { kind: 'per-head', slots };

/**
 * Whether a per-head selection is made: core applies one attention mask to every head, so
 * per-head slots need rows without padding: a single row, or a batch whose
 * `RoutingContext.padding` says no row is padded (a core that does not say gets one shared
 * selection for any batch).
 */
export const canSelectPerHead = (context: RoutingContext): boolean => {
  if (context.batchSize === 1) return true;
  const padding = context.padding;
  return padding !== undefined && padding.length === context.batchSize && padding.every((p) => p === 0);
};

/**
 * The `recent` newest slots plus the highest-scoring older ones up to `budget`: per kv head (equal
 * counts, different slots) when `perHeadWanted` and the batch allows it, else one shared list
 * from the scores summed over heads. `undefined` when everything fits.
 */
export function topWithRecentSelection(
  scores: readonly ArrayLike<number>[],
  budget: number,
  recent: number,
  perHeadWanted: boolean,
  context: RoutingContext,
): KvSelection | undefined {
  if (perHeadWanted && canSelectPerHead(context)) return perHead(perHeadTopWithRecent(scores, budget, recent));
  return shared(topWithRecent(sumHeads(scores), budget, recent));
}

/**
 * A router that keeps the `recent` newest slots plus the older ones with the highest per-head
 * score (H2O's accumulated attention, key-norm's negated norms), per kv head where allowed.
 */
export abstract class TopWithRecentRouter extends BudgetRouter {
  constructor(
    readonly budget: number,
    readonly recent: number,
    readonly perHead: boolean,
    positions?: 'absolute' | 'cache',
  ) {
    super(positions);
  }

  /** Per-head score of every current slot (higher = keep); throws when this step was not observed. */
  protected abstract slotScores(context: RoutingContext): readonly ArrayLike<number>[];

  choose(context: RoutingContext): KvSelection | undefined {
    const scores = this.slotScores(context);
    if (context.cacheLength <= this.budget) return undefined;
    return topWithRecentSelection(scores, this.budget, this.recent, this.perHead, context);
  }
}

/** Slot lists of each head under `selection` (for per-slot state). */
export function keptPerHead(selection: KvSelection, heads: number): readonly (readonly number[])[] {
  return selection.kind === 'shared' ? Array.from({ length: heads }, () => selection.slots) : selection.slots;
}
