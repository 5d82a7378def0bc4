/**
 * @weft/plugin-attention — attention routers: which cached tokens the model sees each step
 * (full, sliding window, StreamingLLM sinks + window, strided, H2O heavy hitters, key-norm,
 * hybrid importance, content-aware), all under one KV budget in tokens.
 */
export { attentionRouters, sinkWindow, slidingWindow, heavyHitter, PLUGIN_NAME, type AttentionRoutersOptions, type DefaultRouter } from './plugin.js';
export {
  createRouter,
  routerSchema,
  ROUTER_NAMES,
  ROUTER_DESCRIPTIONS,
  type RouterName,
  type RouterOptions,
  type FullOptions,
  type WindowOptions,
  type SinkWindowOptions,
  type StridedOptions,
  type HeavyHitterOptions,
  type KeyNormOptions,
  type HybridOptions,
  type ContentAwareOptions,
} from './routers/definitions.js';
export { BudgetRouter, type RouterDecision } from './routers/base.js';
export { FullRouter, WindowRouter, SinkWindowRouter, StridedRouter } from './routers/positional.js';
export { HeavyHitterRouter, AttentionScores } from './routers/heavy-hitter.js';
export { KeyNormRouter, KeyNorms, meanKeyNorms } from './routers/key-norm.js';
export { HybridRouter, type HybridFallback } from './routers/hybrid.js';
export { ContentAwareRouter, type ContentAwareSettings, type ContentAwareReason } from './routers/content-aware.js';
export { RouterDecisionsAnalyzer, ROUTER_DECISIONS } from './analyzers/router-decisions.js';
export { AttentionImportanceAnalyzer } from './analyzers/attention-importance.js';
export { parseOptions, describeOptions, DEFAULT_BUDGET, type OptionSpec, type OptionSchema, type ParsedOptions } from './options.js';
export * from './select/slots.js';
export * from './select/scores.js';
export { VERSION } from './version.js';
