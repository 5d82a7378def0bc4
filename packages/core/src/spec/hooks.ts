import type { BackendTensor, InferenceSession } from './backend.js';
import type { ForwardObservation } from './analyzer.js';
import type { LogitsContext } from './logits.js';

/**
 * What `beforeForward` sees: the feeds core built for this step, which a hook may extend (add or
 * replace entries). Their data is read-only: the attention mask may be a view of a shared buffer.
 */
export interface BeforeForwardContext {
  readonly step: number;
  readonly batchSize: number;
  /** Past length the step runs with. */
  readonly pastLength: number;
  /** Feeds about to be passed to `session.run`; hooks may add or replace entries. */
  readonly feeds: Record<string, BackendTensor>;
  /**
   * The session this step runs on, for making the tensors a hook feeds (`createTensor`) and
   * reading the graph's inputs. Weft runs and releases it.
   */
  readonly session: Pick<InferenceSession, 'createTensor' | 'inputNames' | 'inputMetadata'>;
}

/** A token that was just appended to a row. */
export interface TokenContext {
  readonly row: number;
  readonly step: number;
  readonly id: number;
  readonly text: string;
}

/**
 * Stage hooks a plugin adds to every generation of its runtime (`ctx.addHooks`). For each step
 * they run in this order: `beforeForward` → session.run → `afterForward` → `processLogits` (after
 * the built-in repetition penalty and request processors, before temperature and truncation) →
 * sampler → `afterToken`. `model.evaluate` runs `beforeForward` before each of its forward passes
 * too (so a graph input a plugin feeds is fed there), and none of the others. Hooks are
 * synchronous. A hook that throws (or returns a promise) fails only the stream (or evaluation) it
 * ran in, with a `PluginError` naming its plugin.
 */
export interface GenerationHooks {
  /**
   * Graph inputs this plugin's `beforeForward` feeds that core does not (e.g. `token_type_ids`).
   * A model whose graph has an input neither core nor a plugin feeds fails at load.
   */
  readonly feeds?: readonly string[];
  /**
   * Before each forward pass (of generation and of `model.evaluate`): may add feeds, or replace one
   * with another tensor (`context.session` makes them). Tensors a hook adds are the plugin's to
   * free, and core does not keep them alive for a run past `failover.runTimeoutMs`, which goes on
   * reading its feeds after the stream failed over: a hook that frees its previous tensor when it
   * runs again (straight after a failover, for the next backend's prefill) may free one that run
   * still reads, which a GPU or NPU backend may do late.
   */
  beforeForward?(context: BeforeForwardContext): void;
  /** After each forward pass: reads the step's ids, last-position logits and outputs; must not keep tensors. */
  afterForward?(observation: ForwardObservation): void;
  /** Per active row, after the repetition penalty and request processors: rewrite `logits` in place (returning other logits fails the stream). */
  processLogits?(logits: Float32Array, context: LogitsContext): void;
  /** After each token a row accepted, with the text it released (possibly '' while a character or stop string is pending). */
  afterToken?(token: TokenContext): void;
}
