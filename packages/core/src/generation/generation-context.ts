import type { GenerationConfig } from '../model/generation-config.js';
import type { ModelConfig } from '../model/model-config.js';
import type { OwnedHooks } from '../runtime/tokens.js';
import type { SessionPool } from '../backend/session-pool.js';
import type { Rejection } from '../spec/registry.js';
import type { KvLayout } from '../spec/kv-cache.js';
import type { AdapterRegistry } from '../spec/registry.js';
import type { Tokenizer } from '../spec/tokenizer.js';

/** Everything a generation run needs from its loaded model and runtime. */
export interface GenerationContext {
  /** The session runs go to, and the fallbacks it fails over to. */
  readonly sessions: SessionPool;
  /** Whether a failing backend hands the stream to the next one. */
  readonly failover: boolean;
  /** Backends rejected when this model's backend was chosen, and why. */
  readonly rejectedBackends: readonly Rejection[];
  readonly layout: KvLayout;
  readonly config: ModelConfig;
  readonly generationConfig: GenerationConfig;
  readonly tokenizer: Tokenizer;
  readonly registry: AdapterRegistry;
  readonly hooks: readonly OwnedHooks[];
  /** `generationConfig.eosTokenIds` as a set (made once at load, not per request). */
  readonly eosIds: ReadonlySet<number>;
  /** The layout's `present.*` output names (made once at load). */
  readonly presentNames: ReadonlySet<string>;
  /**
   * Set when the graph declares a batch dim of 1 (a static batch-1 export): the graph and the input
   * that says so. A request with several prompts is then refused before any run.
   */
  readonly batchOfOne?: { readonly graph: string; readonly name: string } | undefined;
  /** Runs (generations and evaluations) started and not yet settled: `model.activeRuns`. */
  readonly activity: { runs: number };
}
