import type { ServiceIdentifier } from 'inversify';
import type { AdapterRegistry } from '../spec/registry.js';
import type { GenerationHooks } from '../spec/hooks.js';

/** A hook set with the plugin that added it. */
export interface OwnedHooks {
  readonly owner: string;
  readonly hooks: GenerationHooks;
}

/** DI tokens of a runtime's container. Each runtime has its own container and bindings. */
export const ADAPTER_REGISTRY: ServiceIdentifier<AdapterRegistry> = Symbol.for('@weft/core/AdapterRegistry');
/** Every hook set plugins added, in registration order. */
export const GENERATION_HOOKS: ServiceIdentifier<OwnedHooks[]> = Symbol.for('@weft/core/GenerationHooks');
/** The host's plugin API version. */
export const API_VERSION: ServiceIdentifier<string> = Symbol.for('@weft/core/ApiVersion');
