import type { ServiceToken } from '../spec/token.js';
import type { AdapterKind, AdapterRegistry } from '../spec/registry.js';
import type { GenerationHooks } from '../spec/hooks.js';
import type { ExtensionPoint } from '../spec/runtime.js';

/** A hook set with the plugin that added it. */
export interface OwnedHooks {
  readonly owner: string;
  readonly hooks: GenerationHooks;
}

/** Resolves DI tokens of one runtime's container (what `weft.get` does). */
export interface WeftServices {
  get<T>(token: ServiceToken<T>): T;
}

/** DI tokens of a runtime's container. Each runtime has its own container and bindings. */
export const ADAPTER_REGISTRY: ServiceToken<AdapterRegistry> = Symbol.for('@weft/core/AdapterRegistry');
/** Every hook set plugins added, in registration order (the live list: add hooks through a plugin, not here). */
export const GENERATION_HOOKS: ServiceToken<OwnedHooks[]> = Symbol.for('@weft/core/GenerationHooks');
/** The host's plugin API version. */
export const API_VERSION: ServiceToken<string> = Symbol.for('@weft/core/ApiVersion');
/** The runtime's own resolver, for services built by the container that resolve other tokens. */
export const WEFT_SERVICES: ServiceToken<WeftServices> = Symbol.for('@weft/core/WeftServices');

const EXTENSION_POINT_PREFIX = '@weft/core/ExtensionPoint:';

/**
 * The token of the extension point for `kind`: core's kinds have named constants below; use this
 * for a kind added to `AdapterKinds` by declaration merging. The same kind always gives the same
 * (registered) symbol, so two copies of core agree.
 */
export function extensionPointToken<K extends AdapterKind>(kind: K): ServiceToken<ExtensionPoint<K>> {
  return Symbol.for(`${EXTENSION_POINT_PREFIX}${kind}`);
}

/** The kind an extension-point token stands for, or undefined for any other token. */
export function extensionPointKind(token: unknown): string | undefined {
  const key = typeof token === 'symbol' ? Symbol.keyFor(token) : undefined;
  return key?.startsWith(EXTENSION_POINT_PREFIX) ? key.slice(EXTENSION_POINT_PREFIX.length) : undefined;
}

/** Backend adapters (`backend`): how sessions run (onnxruntime-node, -web, NPUs). */
export const BACKENDS = extensionPointToken('backend');
/** Tokenizers (`tokenizer`), created per load from the model folder's files. */
export const TOKENIZERS = extensionPointToken('tokenizer');
/** KV-cache stores (`kv-cache`): one store per generation run at a time (`reusable` ones are pooled). */
export const KV_CACHE_STORES = extensionPointToken('kv-cache');
/** Attention routers (`attention-router`): which cache slots each step keeps. */
export const ATTENTION_ROUTERS = extensionPointToken('attention-router');
/** Logits processors (`logits-processor`) a request names in `processors`. */
export const LOGITS_PROCESSORS = extensionPointToken('logits-processor');
/** Samplers (`sampler`) a request names in `sampler`. */
export const SAMPLERS = extensionPointToken('sampler');
/** Analyzers (`analyzer`) a request names in `analyzers`. */
export const ANALYZERS = extensionPointToken('analyzer');
/** Strategy selectors (`strategy-selector`). */
export const STRATEGY_SELECTORS = extensionPointToken('strategy-selector');
/** Model transforms (`model-transform`). */
export const MODEL_TRANSFORMS = extensionPointToken('model-transform');
/** Vision encoders (`vision-encoder`). */
export const VISION_ENCODERS = extensionPointToken('vision-encoder');
/** Vision fusion modules (`vision-fusion`). */
export const VISION_FUSIONS = extensionPointToken('vision-fusion');
/** Grounders (`grounder`). */
export const GROUNDERS = extensionPointToken('grounder');
