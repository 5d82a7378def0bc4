import { lastValueFrom, Observable, reduce } from 'rxjs';
import { ModelDisposedError } from '../errors/model-disposed-error.js';
import { evaluatePerplexity, type PerplexityRequest, type PerplexityResult } from '../generation/evaluate-perplexity.js';
import type { GenerationContext } from '../generation/generation-context.js';
import { generationLoop } from '../generation/generation-loop.js';
import { textDeltas } from '../operators/text-deltas.js';
import { toAsyncIterable } from '../operators/to-async-iterable.js';
import type { GenerationEvent } from '../spec/events.js';
import type { GenerationRequest } from '../spec/request.js';
import type { WeftModel } from '../spec/runtime.js';
import type { PromptCache } from '../spec/prompt-cache.js';
import { freeHeld, ModelPromptCache, type HeldSlot } from '../generation/kv/model-prompt-cache.js';

/** The model object `Weft.load` returns. */
export class DefaultWeftModel implements WeftModel {
  /** Set by the first `dispose()`; every later call returns it, so none resolves before the release. */
  private disposing: Promise<void> | undefined;
  /** Whether the runtime's `dispose()` disposed it (for the messages of later calls). */
  private withRuntime = false;
  /**
   * Prompt caches made by this model and not yet disposed, weakly: the model's `dispose()` frees
   * them, and one the application dropped without `dispose()` is freed once it is collected.
   */
  private readonly promptCaches: TrackedCaches = new Map();

  constructor(
    readonly path: string,
    readonly graphFile: string,
    private readonly context: GenerationContext,
    private readonly onDispose: (model: DefaultWeftModel) => void = () => {},
  ) {}

  get config() {
    return this.context.config;
  }
  get generationConfig() {
    return this.context.generationConfig;
  }
  get tokenizer() {
    return this.context.tokenizer;
  }
  get backend() {
    return this.context.sessions.current.backend;
  }
  get session() {
    return this.context.sessions.current.session;
  }
  get rejectedBackends() {
    return this.context.rejectedBackends;
  }
  get layout() {
    return this.context.layout;
  }
  get activeRuns() {
    return this.context.activity.runs;
  }

  generate(request: GenerationRequest): Observable<GenerationEvent> {
    return generationLoop(this.context, request ?? {}, () => this.assertOpen());
  }

  stream(request: GenerationRequest): AsyncIterable<string> {
    return toAsyncIterable(this.generate(request).pipe(textDeltas()));
  }

  text(request: GenerationRequest): Promise<string> {
    return lastValueFrom(this.generate(request).pipe(textDeltas(), reduce((all, piece) => all + piece, '')), { defaultValue: '' });
  }

  async evaluate(request: PerplexityRequest): Promise<PerplexityResult> {
    this.assertOpen(); // a rejection, like every other failure of evaluate
    const { activity } = this.context;
    activity.runs++;
    try {
      return await evaluatePerplexity(this.context, request);
    } finally {
      activity.runs--;
    }
  }

  createPromptCache(): PromptCache {
    this.assertOpen();
    const caches = this.promptCaches;
    /** The registration's unregister token (references neither the cache nor its slot). */
    const token = {};
    let ref: WeakRef<ModelPromptCache> | undefined;
    const cache = new ModelPromptCache(this.context, () => {
      caches.delete(ref!);
      DROPPED_CACHES.unregister(token);
    });
    ref = new WeakRef(cache);
    caches.set(ref, { slot: cache.slot, token });
    DROPPED_CACHES.register(cache, { slot: cache.slot, caches, ref }, token);
    return cache;
  }

  dispose(): Promise<void> {
    return this.close(false);
  }

  /**
   * `dispose()` for the runtime's own `dispose()`: streams it ends, and later calls, get a
   * `ModelDisposedError` saying to create a new runtime (loading again on this one is refused).
   */
  disposeWithRuntime(): Promise<void> {
    return this.close(true);
  }

  private close(withRuntime: boolean): Promise<void> {
    // The runtime forgets the model only once its sessions are released, so a `weft.dispose()`
    // meanwhile waits for this release too.
    if (!this.disposing) {
      this.withRuntime = withRuntime;
      // Before the sessions go: a cache's tensors belong to them. A run using a cache frees its store itself.
      for (const [ref, { slot, token }] of [...this.promptCaches]) {
        const cache = ref.deref();
        if (cache !== undefined) cache.dispose();
        else {
          // Collected, its finalizer not run yet: its store is freed now, while the sessions are there.
          DROPPED_CACHES.unregister(token);
          this.promptCaches.delete(ref);
          freeHeld(slot);
        }
      }
      this.disposing = this.context.sessions.release(withRuntime ? RUNTIME_DISPOSED_MID_RUN : undefined).finally(() => this.onDispose(this));
    }
    return this.disposing;
  }

  private assertOpen(): void {
    if (!this.disposing) return;
    throw new ModelDisposedError(
      this.withRuntime
        ? `The model at ${this.path} was disposed with its Weft runtime; create a new runtime with createWeft() and load it there.`
        : `The model at ${this.path} was disposed; load it again.`,
    );
  }
}

/** Frees the store a prompt cache held when the application drops the cache without disposing it. */
/** A model's prompt caches, weakly, with what frees each one's store. */
type TrackedCaches = Map<WeakRef<ModelPromptCache>, { readonly slot: HeldSlot; readonly token: object }>;

const DROPPED_CACHES = new FinalizationRegistry<{ slot: HeldSlot; caches: TrackedCaches; ref: WeakRef<ModelPromptCache> }>(({ slot, caches, ref }) => {
  caches.delete(ref);
  freeHeld(slot);
});

const RUNTIME_DISPOSED_MID_RUN =
  'The Weft runtime was disposed while this model was running, which disposed the model; create a new runtime with createWeft() and load the model there.';
