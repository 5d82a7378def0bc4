/**
 * @weft/core — DI runtime, adapter registry, plugin contract, model loading and the streaming
 * generation loop. Backends and plugins live in their own packages; core never imports a runtime.
 */
import 'reflect-metadata';

export type * from './spec/index.js';
export { WEFT_PLUGIN } from './spec/plugin.js';
export * from './errors/index.js';
export { createWeft, type CreateWeftOptions } from './runtime/create-weft.js';
export { WEFT_API_VERSION } from './runtime/api-version.js';
export {
  ADAPTER_REGISTRY,
  GENERATION_HOOKS,
  API_VERSION,
  WEFT_SERVICES,
  BACKENDS,
  TOKENIZERS,
  KV_CACHE_STORES,
  ATTENTION_ROUTERS,
  LOGITS_PROCESSORS,
  SAMPLERS,
  ANALYZERS,
  STRATEGY_SELECTORS,
  MODEL_TRANSFORMS,
  VISION_ENCODERS,
  VISION_FUSIONS,
  GROUNDERS,
  extensionPointToken,
  type OwnedHooks,
  type WeftServices,
} from './runtime/tokens.js';
export { definePlugin } from './plugin/define-plugin.js';
export { PluginHost } from './plugin/plugin-host.js';
export { checkSetupTimeout, SETUP_TIMEOUT_MS, MAX_SETUP_TIMEOUT_MS } from './plugin/setup-timeout.js';
export { DefaultAdapterRegistry } from './registry/default-adapter-registry.js';
export { BUILT_IN_KINDS } from './registry/known-kinds.js';
export type { RegistrationStage } from './spec/registry.js';
export { parseModelConfig, SUPPORTED_MODEL_TYPES, ROTATE_HALF_MODEL_TYPES, type ModelConfig, type RotaryEmbedding } from './model/model-config.js';
export { parseGenerationConfig, type GenerationConfig } from './model/generation-config.js';
export { readKvLayout } from './model/kv-layout.js';
export { HfTokenizer } from './tokenizer/hf-tokenizer.js';
export type { TokenPiece } from './tokenizer/byte-level-pieces.js';
export { DEFAULT_TOKENIZER } from './tokenizer/hf-tokenizer-entry.js';
export { IncrementalDetokenizer } from './tokenizer/incremental-detokenizer.js';
export { FullPrecisionKvStore } from './generation/kv/full-precision-kv-store.js';
export { CacheKeyRerotation, cacheKeyRerotation } from './generation/kv/rerotate-keys.js';
export { StopMatcher } from './generation/text/stop-matcher.js';
export { stepFeeds } from './generation/step-feeds.js';
export type { PerplexityRequest, PerplexityResult } from './generation/evaluate-perplexity.js';
export { textDeltas } from './operators/text-deltas.js';
export { toAsyncIterable } from './operators/to-async-iterable.js';
export { tokensAtLeast } from './generation/prompt-ids.js';
export { analysesOf, analyzerName, isAnalysisOf, type AnalyzerName, type AnalyzerRef } from './operators/analyses-of.js';
export { seededRandom } from './generation/sampling/seeded-random.js';
export { float16Table, float32BitsToFloat16, tensorFloat32 } from './generation/float16.js';
export { applyRepetitionPenalty } from './generation/sampling/repetition-penalty.js';
export { applyTemperature } from './generation/sampling/temperature.js';
export { applyTopK } from './generation/sampling/top-k.js';
export { applyTopP } from './generation/sampling/top-p.js';
export { applyMinP } from './generation/sampling/min-p.js';
export { argmax } from './generation/sampling/argmax.js';
export { sampleCategorical } from './generation/sampling/sample-categorical.js';
export { settleNonFinite } from './generation/sampling/settle-non-finite.js';
export { softmax, logSumExp } from './generation/sampling/softmax.js';
export { median } from './util/median.js';
export { CircuitBreaker, type BreakerOptions, type BreakerState } from './backend/circuit-breaker.js';
export { RunsInFlight } from './backend/runs-in-flight.js';
export { SessionPool, type ActiveSession } from './backend/session-pool.js';
export { selectBackend, type BackendSelection, type BackendProbeOptions } from './model/select-backend.js';
export { onnxExternalDataFiles, checkExternalDataLocation } from './model/onnx-external-data.js';
export { FETCH_TIMEOUT_MS, PROBE_TIMEOUT_MS, SESSION_TIMEOUT_MS } from './model/load-timeouts.js';
export { checkSessionOptions, logSeverityLevel } from './model/session-options.js';
export { checkModelSource } from './model/check-model-source.js';
export { gatherSlots, validateSelection } from './generation/kv/gather-slots.js';
export { slotPositions } from './generation/kv/store-calls.js';
export type { FeedPlacement } from './generation/step-feeds.js';
export { DEFAULT_CAPABILITY, DEFAULT_KV_STORE, REUSABLE_CAPABILITY } from './generation/resolve-components.js';
export { parseNamedRef } from './util/parse-named-ref.js';
export { describeCause, quoteValue } from './util/describe-cause.js';
export { onRejection } from './util/on-rejection.js';
export { checkKnownKeys } from './util/known-keys.js';
export {
  isOptionList,
  isOptionsObject,
  MAX_OPTION_LIST,
  optionKeyLabel,
  readOptionList,
  readOptionListItem,
  readOptionListLength,
  readOwnOptions,
  type OptionNaming,
} from './util/own-options.js';
