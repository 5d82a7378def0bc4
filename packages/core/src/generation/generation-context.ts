import type { GenerationConfig } from '../model/generation-config.js';
import type { ModelConfig } from '../model/model-config.js';
import type { OwnedHooks } from '../runtime/tokens.js';
import type { InferenceSession } from '../spec/backend.js';
import type { KvLayout } from '../spec/kv-cache.js';
import type { AdapterRegistry } from '../spec/registry.js';
import type { Tokenizer } from '../spec/tokenizer.js';

/** Everything a generation run needs from its loaded model and runtime. */
export interface GenerationContext {
  readonly session: InferenceSession;
  readonly backend: string;
  readonly layout: KvLayout;
  readonly config: ModelConfig;
  readonly generationConfig: GenerationConfig;
  readonly tokenizer: Tokenizer;
  readonly registry: AdapterRegistry;
  readonly hooks: readonly OwnedHooks[];
}
