import { analyzerName, type Analyzer, type ForwardObservation } from '@weft/core';
import type { BudgetRouter, RouterDecision } from '../routers/base.js';

/**
 * The registered name of the `router-decisions` analyzer, typed by its data: request it and read
 * its events with it, `analyzers: [ROUTER_DECISIONS]` and `analysesOf(ROUTER_DECISIONS)` or
 * `isAnalysisOf(event, ROUTER_DECISIONS)` (each event's `data` is a `RouterDecision`).
 */
export const ROUTER_DECISIONS = analyzerName<RouterDecision>('router-decisions');

/**
 * Which `router-decisions` analyzer saw an observation. Core hands the same observation object
 * to a request's analyzers and then to its router in the same step, so the router finds the
 * analyzer of its own request here (weakly held: entries go with the observation).
 */
const analyzerOf = new WeakMap<ForwardObservation, RouterDecisionsAnalyzer>();

/**
 * The analyzer listening to each router. A router instance serves one run at a time, so a newer
 * analyzer replaces the one of an earlier run (else a reused instance would keep one listener,
 * and its analyzer, per request it ever served).
 */
const listening = new WeakMap<BudgetRouter, RouterDecisionsAnalyzer>();

/** Called by this package's routers in `observe`: attaches the request's analyzer, if any. */
export function linkDecisions(observation: ForwardObservation, router: BudgetRouter): void {
  analyzerOf.get(observation)?.attach(router);
}

/**
 * Publishes the request's attention-router decisions as `analysis` events (routers cannot emit
 * events). It links itself to the request's router on the first step (routers of this package:
 * by name or as instances); with another router it publishes nothing. Analyzers observe a
 * step before the router decides, so the event of step `t` carries the decision made after
 * step `t - 1`, i.e. the cache step `t` ran with; the decision after the last step is not
 * published (read it from the router's `lastDecision`). An instance may serve several requests
 * one after another (each starts afresh), not two at once.
 */
export class RouterDecisionsAnalyzer implements Analyzer<RouterDecision> {
  readonly name = ROUTER_DECISIONS;
  private pending: RouterDecision | undefined;
  private router: BudgetRouter | undefined;
  private detach: (() => void) | undefined;

  attach(router: BudgetRouter): void {
    if (this.router === router) return;
    this.release();
    const previous = listening.get(router);
    if (previous !== undefined && previous !== this) previous.release();
    listening.set(router, this);
    this.router = router;
    this.detach = router.onDecision((d) => {
      this.pending = d;
    });
  }

  /** Stops listening to its router. */
  private release(): void {
    this.detach?.();
    this.detach = undefined;
    if (this.router !== undefined && listening.get(this.router) === this) listening.delete(this.router);
    this.router = undefined;
  }

  observe(observation: ForwardObservation): RouterDecision | undefined {
    // A run's first step: nothing this request decided is pending yet. An instance passed to
    // several requests in turn would otherwise publish the previous request's last decision,
    // and keep hearing that request's router (which another request may be using now).
    if (observation.step === 0) {
      this.release();
      this.pending = undefined;
    }
    analyzerOf.set(observation, this);
    const d = this.pending;
    this.pending = undefined;
    return d;
  }
}
