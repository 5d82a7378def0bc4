import type { ForwardObservation, KvSelection, RoutingContext } from '@weft/core';
import { logitEntropy, repetitionRate } from '../select/scores.js';
import { BudgetRouter, decision } from './base.js';
import { HeavyHitterRouter } from './heavy-hitter.js';
import { KeyNormRouter } from './key-norm.js';
import { SinkWindowRouter } from './positional.js';

/** Settings of {@link ContentAwareRouter}. */
export interface ContentAwareSettings {
  readonly budget: number;
  /** `step`: decide every step; `request`: decide once, when eviction starts, then keep it. */
  readonly mode: 'step' | 'request';
  /** Mean next-token entropy (nats) at or above which the model counts as uncertain. */
  readonly entropy: number;
  /** Repeated-trigram fraction of the recent ids at or above which the text counts as looping. */
  readonly repetition: number;
  /** How many recent ids (of row 0) the repetition is measured over. */
  readonly repetitionWindow: number;
  /** Sink tokens of its `sink-window` policy. */
  readonly sinks: number;
}

/** Why `content-aware` chose a policy. */
export type ContentAwareReason = 'fits' | 'uncertain' | 'repetition' | 'confident' | 'locked';

/**
 * Picks a method per step (or once per request) from measured signals, under one budget:
 * 1. context ≤ budget → `full` (nothing to evict);
 * 2. mean logit entropy ≥ `entropy` (uncertain) → an importance method: `heavy-hitter` when the
 *    graph exports attentions, else `key-norm`;
 * 3. repeated-trigram rate of the last `repetitionWindow` ids ≥ `repetition` (looping) → the
 *    importance method too (a window full of the loop gives the model nothing else to read);
 * 4. otherwise (confident, varied text) → `sink-window`, which local context serves well.
 * Every candidate observes every step and follows every eviction, so switching is always
 * consistent with the cache. Decisions are on `lastDecision`, `onDecision`, and (through the
 * `router-decisions` analyzer) in `analysis` events.
 */
export class ContentAwareRouter extends BudgetRouter {
  readonly name = 'content-aware';
  readonly budget: number;
  private readonly sinkWindow: SinkWindowRouter;
  private readonly heavyHitter: HeavyHitterRouter;
  private readonly keyNorm: KeyNormRouter;
  private attentions = false;
  private entropy = 0;
  private history: number[] = [];
  private locked: BudgetRouter | undefined;

  constructor(
    readonly settings: ContentAwareSettings,
    positions?: 'absolute' | 'cache',
  ) {
    super(positions);
    const { budget } = settings;
    this.budget = budget;
    const sinks = Math.min(settings.sinks, budget - 1);
    this.sinkWindow = new SinkWindowRouter(sinks, budget - sinks);
    this.heavyHitter = new HeavyHitterRouter(budget, Math.floor(budget / 2), true);
    this.keyNorm = new KeyNormRouter(budget, Math.floor(budget / 2), true);
  }

  override observeSignals(observation: ForwardObservation): void {
    const firstKey = observation.outputs[observation.layout.presentKeyNames[0] ?? ''];
    const fed = observation.inputIds[0] ?? [];
    if (firstKey && firstKey.dims[2] === fed.length) {
      // First step of a run: nothing cached before it.
      this.history = [];
      this.locked = undefined;
    }
    this.attentions = observation.layout.attentionNames.length > 0;
    if (this.attentions) this.heavyHitter.observeSignals(observation);
    else this.keyNorm.observeSignals(observation);
    let sum = 0;
    for (const row of observation.logits) sum += logitEntropy(row);
    this.entropy = observation.logits.length > 0 ? sum / observation.logits.length : 0;
    // Only the last `repetitionWindow` ids matter. No spread: a long prompt as call arguments
    // would overflow the stack (V8 fails at ~150k arguments).
    const keep = this.settings.repetitionWindow;
    for (let i = Math.max(0, fed.length - keep); i < fed.length; i++) this.history.push(fed[i]!);
    if (this.history.length > keep) this.history = this.history.slice(-keep);
  }

  override select(context: RoutingContext): KvSelection | undefined {
    const repetition = repetitionRate(this.history, 3);
    const { policy, reason } = this.pick(context, repetition, true);
    const selection = policy?.choose(context);
    this.commit(selection, context);
    const signals = { entropy: this.entropy, repetition, cacheLength: context.cacheLength, budget: this.budget };
    this.publish(decision(this.name, policy?.name ?? 'full', context, selection, { reason, signals }));
    return selection;
  }

  choose(context: RoutingContext): KvSelection | undefined {
    return this.pick(context, repetitionRate(this.history, 3), false).policy?.choose(context);
  }

  override commit(selection: KvSelection | undefined, context: RoutingContext): void {
    if (this.attentions) this.heavyHitter.commit(selection, context);
  }

  private pick(context: RoutingContext, repetition: number, lock: boolean): { policy: BudgetRouter | undefined; reason: ContentAwareReason } {
    if (context.cacheLength <= this.budget) return { policy: undefined, reason: 'fits' };
    if (this.locked) return { policy: this.locked, reason: 'locked' };
    const important = this.attentions ? this.heavyHitter : this.keyNorm;
    let choice: { policy: BudgetRouter; reason: ContentAwareReason };
    if (this.entropy >= this.settings.entropy) choice = { policy: important, reason: 'uncertain' };
    else if (repetition >= this.settings.repetition) choice = { policy: important, reason: 'repetition' };
    else choice = { policy: this.sinkWindow, reason: 'confident' };
    if (lock && this.settings.mode === 'request') this.locked = choice.policy;
    return choice;
  }
}
