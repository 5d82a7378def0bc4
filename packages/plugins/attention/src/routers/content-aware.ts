import type { ForwardObservation, KvSelection, RoutingContext } from '@weft/core';
import { logitEntropy, repetitionRate, rowActive, rowPadding, type BatchRows } from '../select/scores.js';
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
  /** How many recent ids of each row (its padding left out) the repetition is measured over. */
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
 *    importance method too (a window full of the loop gives the model nothing else to read).
 * In a batch, entropy and repetition are means over the rows still generating, each row's
 * repetition measured on its own ids without its left padding;
 * 4. otherwise (confident, varied text) → `sink-window`, which local context serves well.
 * Every candidate observes every step and follows every eviction, so switching is always
 * consistent with the cache. Decisions are on `lastDecision`, `onDecision` (a listener's failure
 * never fails the stream: see {@link BudgetRouter.onDecision}), and (through the
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
  /** The last `repetitionWindow` real ids of each row (padding left out). */
  private histories: number[][] = [];
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
    const fedLength = observation.inputIds[0]?.length ?? 0;
    // Fed from position 0 (nothing cached before it): a run's first step, or a restart after
    // failover; only then do the fed ids begin with the rows' left padding.
    const fromStart = firstKey !== undefined && firstKey.dims[2] === fedLength;
    if (fromStart) {
      this.histories = [];
      this.locked = undefined;
    }
    this.attentions = observation.layout.attentionNames.length > 0;
    if (this.attentions) this.heavyHitter.observeSignals(observation);
    else this.keyNorm.observeSignals(observation);
    let sum = 0;
    let rows = 0;
    for (let r = 0; r < observation.logits.length; r++) {
      if (!rowActive(observation, r)) continue;
      sum += logitEntropy(observation.logits[r]!);
      rows++;
    }
    this.entropy = rows > 0 ? sum / rows : 0;
    // Only the last `repetitionWindow` ids matter. No spread: a long prompt as call arguments
    // would overflow the stack (V8 fails at ~150k arguments). A finished row's history stays as
    // it was (it is fed padding, and its repetition no longer counts).
    const keep = this.settings.repetitionWindow;
    for (let r = 0; r < observation.inputIds.length; r++) {
      if (!rowActive(observation, r)) continue;
      const fed = observation.inputIds[r]!;
      const history = (this.histories[r] ??= []);
      const first = Math.max(fromStart ? rowPadding(observation, r) : 0, fed.length - keep);
      for (let i = first; i < fed.length; i++) history.push(fed[i]!);
      if (history.length > keep) this.histories[r] = history.slice(-keep);
    }
  }

  /** Mean repeated-trigram rate over the rows still generating, each on its own recent ids. */
  private repetition(rows: BatchRows): number {
    let sum = 0;
    let count = 0;
    for (let r = 0; r < this.histories.length; r++) {
      if (!rowActive(rows, r)) continue;
      sum += repetitionRate(this.histories[r] ?? [], 3);
      count++;
    }
    return count > 0 ? sum / count : 0;
  }

  override select(context: RoutingContext): KvSelection | undefined {
    const repetition = this.repetition(context);
    const { policy, reason } = this.pick(context, repetition, true);
    const selection = policy?.choose(context);
    this.commit(selection, context);
    const signals = { entropy: this.entropy, repetition, cacheLength: context.cacheLength, budget: this.budget };
    this.publish(decision(this.name, policy?.name ?? 'full', context, selection, { reason, signals }));
    return selection;
  }

  choose(context: RoutingContext): KvSelection | undefined {
    return this.pick(context, this.repetition(context), false).policy?.choose(context);
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
