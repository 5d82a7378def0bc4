import { Observable, type Subscriber } from 'rxjs';
import { BackendError } from '../errors/backend-error.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { ModelDisposedError } from '../errors/model-disposed-error.js';
import type { BackendTensor } from '../spec/backend.js';
import type { ActiveSession } from '../backend/session-pool.js';
import { HALTED, LateRelease, RunWaiter } from '../backend/run-waiter.js';
import { acquireUnlessHalted, handBackLater } from '../backend/acquire-unless-halted.js';
import type { GenerationEvent } from '../spec/events.js';
import type { GenerationRequest } from '../spec/request.js';
import type { GenerationContext } from './generation-context.js';
import { promptIds, readGenerationRequest } from './prompt-ids.js';
import { isAborted, requestLimits } from './request-limits.js';
import { anotherStore, resolveComponents } from './resolve-components.js';
import { RowState } from './row-state.js';
import { stopPlan } from './text/stop-plan.js';
import { frozenList } from '../util/frozen-list.js';
import { resolveSamplingOptions } from './sampling/sampling-options.js';
import { seededRandom } from './sampling/seeded-random.js';
import { runStage, stageFailure, synchronousResult } from './stage-runner.js';
import type { Owned } from './resolve-components.js';
import type { Analyzer } from '../spec/analyzer.js';
import { stageHooks } from './stage-hooks.js';
import { tokenEvent } from './token-event.js';
import { takePresents } from './take-presents.js';
import { stepFeeds } from './step-feeds.js';
import { nextTokens, type NextTokenContext } from './next-tokens.js';
import { applyRouter } from './apply-router.js';
import { disposeStore, storeAppend, storeBegin, storeBytes, storeLength, storeMaterialize, storeSlotPositions } from './kv/store-calls.js';
import { cacheKeyRerotation } from './kv/rerotate-keys.js';
import { median } from '../util/median.js';
import { claimInstances, releaseInstances } from './instance-claims.js';
import { runBeforeForwardHooks } from './check-feeds.js';
import { halfCacheBridge } from './kv/half-cache-bridge.js';
import { float16ToFloat32 } from './float16.js';
import { LogitsCheck, sharedKeepLastLogits } from './logits-to-keep.js';
import { defaultMaxTokens, resolveMinTokens } from './length-defaults.js';
import { TokenBans } from './token-bans.js';
import { doneEvent, flush } from './done-event.js';
import { releaseFeedsLate, storeStillRead } from './timed-out-run.js';
import { RunPromptCache } from './kv/run-prompt-cache.js';

/**
 * The generation loop as a cold Observable: nothing runs until subscription; each subscription
 * is an independent run. Per step: input feeds → KV store `materialize` (and key re-rotation) →
 * `beforeForward` hooks → session.run → analyzers, router `observe`, `afterForward` hooks →
 * repetition penalty, processors, `processLogits` hooks → sampling (every row) → per row: EOS,
 * detokenize and stop checks, token event, `afterToken` hooks, `flush` event when the row ended
 * → KV store append (and router select/retain) → metrics event.
 * Unsubscribing or aborting stops within one step and releases every tensor of the run. While a
 * forward pass is pending, aborting (or unsubscribing, or disposing the model) ends the stream at
 * once, without waiting for the pass (a hung backend may never finish it): its result is released
 * when it arrives, and the run keeps its feeds and KV cache (and counts in `activeRuns`) until then.
 * A pass past the run timeout is left to finish alone while the stream fails over at once: its feeds
 * and the store it read are released when it settles (see `FailoverOptions.runTimeoutMs`).
 * `beforeRun` runs at each subscription, before anything else (the model's disposed check).
 */
export function generationLoop(context: GenerationContext, request: GenerationRequest, beforeRun?: () => void): Observable<GenerationEvent> {
  return new Observable<GenerationEvent>((subscriber) => {
    beforeRun?.(); // may throw: the subscriber gets the error
    const run: LoopRun = { cancelled: false, waiter: undefined };
    const { activity } = context;
    // Counted until the run settles: an unsubscribed run still waits for the forward pass it sent.
    activity.runs++;
    runGeneration(context, request, subscriber, run).then(
      () => {
        activity.runs--;
        run.waiter?.close();
        subscriber.complete();
      },
      (error: unknown) => {
        activity.runs--;
        run.waiter?.close();
        subscriber.error(error);
      },
    );
    return () => {
      run.cancelled = true;
      // Stops waiting for a forward pass in flight (and aborts the signal its run got).
      run.waiter?.halt();
    };
  });
}

async function runGeneration(
  ctx: GenerationContext,
  given: GenerationRequest,
  out: Subscriber<GenerationEvent>,
  run: LoopRun,
): Promise<void> {
  const started = performance.now();
  const { layout, tokenizer, generationConfig, hooks, sessions } = ctx;
  const vocab = ctx.config.vocabSize;
  // Each field read once, here: the run never reads the caller's object again.
  const request = readGenerationRequest(given);
  const prompts = promptIds(request, tokenizer, vocab, ctx.config.maxPositions);
  // A static batch-1 export: onnxruntime would refuse a batch of several rows at the first run.
  if (ctx.batchOfOne && prompts.length > 1) {
    const { graph, name } = ctx.batchOfOne;
    throw new InvalidOptionsError(
      `This graph takes one prompt at a time: ${graph} declares "${name}" with a fixed batch size of 1, and the request has ${prompts.length} prompts. ` +
        `Send each prompt in a request of its own, or re-export the graph with a dynamic batch axis.`,
      { option: request.inputIds !== undefined ? 'inputIds' : request.messages !== undefined ? 'messages' : 'prompt' },
    );
  }
  const promptCache = RunPromptCache.of(request.promptCache, ctx, prompts.length, request.router);
  const sampling = resolveSamplingOptions(request, generationConfig);
  let longest = 0;
  for (const p of prompts) longest = Math.max(longest, p.length);
  // generation_config.json's max_new_tokens / max_length give the default (see defaultMaxTokens).
  const configLength = request.maxTokens === undefined && (generationConfig.maxNewTokens !== undefined || generationConfig.maxLength !== undefined);
  const { maxTokens, stop, ignoreEos } = requestLimits(request, longest, ctx.config.maxPositions, configLength ? defaultMaxTokens(generationConfig, longest) : undefined);
  const minTokens = resolveMinTokens(request, generationConfig, longest);
  /** The backend the run is on: taken in the try below, after the request's own checks. */
  let active: ActiveSession;
  const { presentNames } = ctx;
  const eos = ignoreEos ? NO_EOS : ctx.eosIds;
  const batch = prompts.length;
  // Frozen: stores see it (KvCacheInit.padding) and the loop's feeds read it every step.
  const pads = frozenList(batch, (r) => longest - prompts[r]!.length);
  const padded = pads.some((p) => p > 0);
  // The special tokens stop strings hold (and their sentinels): worked out once for every row.
  const stops = stop.length > 0 ? stopPlan(tokenizer, stop) : undefined;
  const rows = prompts.map((p, r) => new RowState(r, p, tokenizer, stop, stops));
  // Per row, whether this step feeds it real ids (observations' and routers' `active`): frozen, and
  // replaced only in a step where a row finished, so a consumer keeping it keeps that step's state.
  let activeRows = frozenList(batch, () => true);
  const stages = stageHooks(hooks);
  const emitMetrics = request.metrics !== false;
  const signal = request.signal;
  const stepMs: number[] = [];
  /** Tokens fed so far, padding included: the absolute index of the next token. */
  let seen = 0;
  /** Backends the current step has failed on (made at the first failure): failover passes them over. */
  let failedThisStep: Set<string> | undefined;
  let ttftMs = 0;
  /** Start of the run to the first forward pass (set once, at step 0's first attempt). */
  let setupMs = -1;
  let owned: Readonly<Record<string, BackendTensor>> = NOTHING_OWNED;
  /** Past keys re-rotated to cache positions for this step (positions: 'cache'). */
  let rotated: readonly BackendTensor[] = NOTHING_ROTATED;
  /** float16 copies of this step's past feeds (a float16 cache in a float32 store). */
  let halved: readonly BackendTensor[] = NOTHING_ROTATED;
  // A session whose tensors are garbage-collected gets them dropped, not disposed (onnxruntime's
  // dispose adds fields to each tensor: ~20 per step, with the store's). Set with the backend.
  let disposeTensors = true;
  // Graphs with num_logits_to_keep compute logits for each row's last position only (all the loop
  // reads, the prefill included): one shared tensor of value 1 per session, fed every step.
  let keepLast: BackendTensor | undefined;
  const keepName = layout.logitsToKeep?.name ?? '';
  // float16 logits (fp16 exports): each row read is converted to float32.
  const halfLogits = layout.logitsType === 'float16';
  // Allocates nothing: it runs twice a step, and garbage a step leaves is collected during later ones.
  const release = (): void => {
    if (disposeTensors) {
      for (const name in owned) owned[name]!.dispose();
      for (let i = 0; i < rotated.length; i++) rotated[i]!.dispose();
      for (let i = 0; i < halved.length; i++) halved[i]!.dispose();
    }
    owned = NOTHING_OWNED;
    rotated = NOTHING_ROTATED;
    halved = NOTHING_ROTATED;
  };
  // The hooks of each stage as the run starts (indexed loops over them allocate nothing).
  const { beforeForward: beforeForwardHooks, afterForward: afterForwardHooks, afterToken: afterTokenHooks } = stages;

  // Last before the try: the store may come from the pool, and every exit from here on must hand
  // it back or dispose it. A store instance the request passed is the run's only once claimed (a
  // claim that fails leaves it to the run using it).
  const components = resolveComponents(ctx.registry, request, ctx);
  /** The run's store: `components.kv`, or another instance of its entry after a run timed out. */
  let kv = components.kv;
  /**
   * Set while a run that timed out may still read `kv`'s tensors (it was fed them): the store is
   * disposed (and its claim released) only once that run settles.
   */
  let storeReadLate: LateRelease | undefined;
  /** Set when the stream was stopped while waiting for a timed-out run to let go of the request's store instance. */
  let lateRunLeft = false;
  let ownsStore = kv.owner !== 'request';
  let claimed: readonly object[] = NOTHING_CLAIMED;
  let failed = false;
  /**
   * The backend taken (by `acquire` or a failover) until a run is sent to it: a half-open trial
   * taken with it goes back to the pool if the run ends before that (aborted, unsubscribed, a hook
   * or the store failing first), so the next request gets the trial.
   */
  let untried: ActiveSession | undefined;
  /** Prompt tokens the store already held from the prompt cache (not fed again). */
  let cachedTokens = 0;
  /** Every id fed so far per row: the prompt cache keeps row 0's fed part with the store. */
  let history: number[][] = [];
  try {
    // The run's wait for its forward passes, given up when the request aborts, the subscriber
    // leaves or the model is disposed (see RunWaiter); it never reads `signal.aborted`.
    const waiter = (run.waiter = new RunWaiter(sessions, signal));
    // Logits of the wrong size: checked by the pool (which counts them against the backend's
    // breaker) where there are backends to fail over to, and by the loop in any case.
    const logitsCheck = new LogitsCheck(batch, vocab);
    claimed = claimInstances(components);
    ownsStore = true;
    // Waits for a run on the cache that is stopping; halted meanwhile, the run ends at its first check.
    if (promptCache) await promptCache.claim(components.router, components.kvSource !== undefined, waiter, () => run.cancelled);
    // After the request's own checks (input, components, claims), as evaluate does: with failover,
    // taking a backend whose breaker half-opened takes its one trial.
    const taken = ctx.failover ? await acquireUnlessHalted(sessions, waiter) : sessions.current;
    if (taken !== undefined) active = untried = taken;
    else {
      // Halted before or while a backend's session opened: disposed (the error), unsubscribed
      // (nothing left to tell), or aborted: the step loop ends the run at its first check, before
      // any run is sent; `start` names the model's current backend, which the run never took.
      if (sessions.closed) throw sessions.failure(sessions.current, undefined);
      if (run.cancelled) return;
      active = sessions.current;
    }
    disposeTensors = active.session.garbageCollectedTensors !== true;
    if (layout.logitsToKeep) keepLast = sharedKeepLastLogits(active.session, layout);
    const router = components.router;
    // `positions` as read and checked when the run resolved the router.
    const positionMode = router?.positions ?? 'absolute';
    // Read inside a stage: a getter that throws is a PluginError naming the router.
    const routerObserves = router !== undefined && runStage(router.owner, `router "${router.name}" observe`, () => Boolean(router.value.observe));
    // Unless decoding is plain greedy, picking a token rewrites logits: it works on a copy so the raw
    // row stays intact for analyzers and for the lazily computed logprob.
    const rewrites =
      sampling.temperature !== 0 || sampling.repetitionPenalty !== 1 || components.processors.length > 0 ||
      components.sampler !== undefined || stages.processLogits.length > 0;
    // Only picks that rewrite logits draw random numbers (plain greedy takes the argmax).
    const random = rewrites ? seededRandom(sampling.seed) : NEVER_DRAWN;
    // Whether anything reads each step's observation (else it is not built).
    const observed = components.analyzers.length > 0 || routerObserves || afterForwardHooks.length > 0;
    /** What picking needs besides the logits; one object per run, its `step` updated each step. */
    const picking: { -readonly [K in keyof NextTokenContext]: NextTokenContext[K] } = {
      step: 0,
      vocab,
      padTokenId: generationConfig.padTokenId,
      prompts,
      sampling,
      random,
      components,
      hooks: stages.processLogits,
      rewrites,
      // Ignoring EOS makes it an ordinary token: no minimum to hold it back for.
      bans: TokenBans.of(generationConfig, ignoreEos ? [] : generationConfig.eosTokenIds, minTokens),
    };
    // Inside the try: a router whose positions this model cannot re-rotate fails the run, and the
    // store still goes through disposeStore.
    const rerotation = cacheKeyRerotation(positionMode, layout, ctx.config, batch);
    // A float16 cache (fp16 exports) reaches stores and routers other than the default as float32.
    const half = halfCacheBridge(layout, kv, router, rerotation !== undefined);
    const storeLayout = half?.layout ?? layout;
    if (layout.hasPast) {
      // A run stopped before its backend feeds nothing: it leaves the cache as it was.
      const reused = waiter.stopped ? undefined : promptCache?.reuse(components.kvSource!, active.session, half !== undefined, router, prompts[0]!);
      if (reused === undefined) storeBegin(kv, { layout: storeLayout, batchSize: batch, session: active.session, padding: pads });
      else {
        // The store the run resolved is not needed: the cached one goes on from its prefix.
        const unused = kv;
        kv = reused.store;
        cachedTokens = seen = reused.length;
        disposeStore(unused, false, components.kvPool);
      }
    }
    out.next({ type: 'start', backend: active.backend, rejectedBackends: ctx.rejectedBackends, batchSize: batch, promptIds: promptCopies(prompts), kv: kv.name, router: router?.name, maxTokens, cachedTokens });
    // A subscriber that stopped at `start` (e.g. `take(1)`) unsubscribed before the teardown was
    // registered: skip the forward pass it no longer wants.
    if (out.closed) return;
    // Every id fed so far per row (padded prompt, then one id per step); recompute-only models
    // (no past inputs) are fed all of it each step.
    history = prompts.map((p, r) => (pads[r] === 0 ? p.slice() : new Array<number>(pads[r]!).fill(generationConfig.padTokenId).concat(p)));
    // What the cache holds is not fed again (a cache serves one unpadded row).
    let tokens: number[][] = history.map((h) => h.slice(cachedTokens));
    for (let step = 0; ; step++) {
      if (run.cancelled) return;
      if (isAborted(signal)) {
        for (const row of rows) flush(out, row, row.finish('abort'));
        break;
      }
      const stepStart = performance.now();
      let feedIds = layout.hasPast ? tokens : history;
      let kvMs = 0;
      let forwardMs = 0;
      let forwardEnd = 0;
      let outputs: Record<string, BackendTensor> | undefined;
      while (!outputs) {
        const pastLength = layout.hasPast ? storeLength(kv) : 0;
        // Slot positions matter only with padding (masking) or after eviction; else the count will do.
        const simple = !padded && !router;
        const slots = layout.hasPast && !simple ? storeSlotPositions(kv, layout.numKvHeads)[0] ?? [] : [];
        const nextPosition = layout.hasPast ? seen : 0;
        owned = stepFeeds(active.session, layout, feedIds, pads, simple ? { slotPositions: slots, pastLength, nextPosition, positionMode } : { slotPositions: slots, nextPosition, positionMode });
        // Object.assign, not spread: V8 gives an object made by spread no cached map transitions,
        // so adding the past tensors to it cost ~4 µs per step (measured), Object.assign ~0.1 µs.
        const feeds: Record<string, BackendTensor> = Object.assign({}, owned);
        if (keepLast) feeds[keepName] = keepLast;
        if (layout.hasPast) {
          const t = performance.now();
          Object.assign(feeds, storeMaterialize(kv, pastLength));
          if (rerotation) {
            rotated = rerotation.apply(active.session, feeds, storeSlotPositions(kv, layout.numKvHeads), pads);
            rerotation.record(seen, owned['position_ids']!);
          }
          if (half) halved = half.toGraph(active.session, feeds);
          kvMs += performance.now() - t;
        }
        if (beforeForwardHooks.length > 0) runBeforeForwardHooks(beforeForwardHooks, { step, batchSize: batch, pastLength, session: active.session }, feeds);
        const forwardStart = performance.now();
        // Halted before its run was sent (aborted while a session opened, or in a beforeForward
        // hook): no pass is sent, and a half-open trial taken with the backend goes back (below).
        if (waiter.stopped) break;
        // The first run on this backend (step 0's first attempt, or the attempt after a failover);
        // the same one test per step as the setupMs check it holds.
        if (untried !== undefined) {
          untried = undefined;
          if (setupMs < 0) setupMs = forwardStart - started;
        }
        try {
          logitsCheck.fed = feedIds[0]!.length;
          const result = sessions.outputsOf(active, await waiter.wait(sessions.runStep(active, feeds, waiter.runOptionsFor(active.session), logitsCheck, waiter), disposeTensors));
          // Logits of the wrong size fail the run like a backend error (and fail over), before any is read.
          logitsCheck.check(result, active.backend);
          outputs = result;
        } catch (thrown) {
          // Given up on while pending: it still uses its feeds, released once it settles (below).
          if (thrown === HALTED) break;
          // Past its timeout, the run goes on and may still read its feeds and the cache: they are
          // freed once it settles, not now (the stream does not wait for it).
          const timedOut = waiter.abandoned();
          if (timedOut === undefined) release();
          else {
            const late = releaseFeedsLate(ctx, timedOut, disposeTensors ? owned : NOTHING_OWNED, disposeTensors ? [rotated, halved] : NOTHING_MADE);
            owned = NOTHING_OWNED;
            rotated = halved = NOTHING_ROTATED;
            if (layout.hasPast) storeReadLate = late;
          }
          const error = sessions.failure(active, thrown);
          if (!ctx.failover || run.cancelled || ModelDisposedError.isInstance(error)) throw error;
          // Continue on the next backend from the same point: a fresh cache, prefilled with
          // every id fed so far (prompt and generated tokens), so no token is lost or repeated.
          const from = active.backend;
          (failedThisStep ??= new Set()).add(from);
          const next = sessions.failover(from, failedThisStep);
          try {
            active = untried = await waiter.until(next);
          } catch (stopped) {
            if (stopped !== HALTED) throw stopped;
            // Aborted, unsubscribed or disposed while the next backend's session opened: the stream
            // ends now (below), and the session taken later goes back unused.
            handBackLater(sessions, next);
            break;
          }
          // Unsubscribed while the next backend's session opened: no prefill there.
          if (run.cancelled) return;
          disposeTensors = active.session.garbageCollectedTensors !== true;
          if (keepLast) keepLast = sharedKeepLastLogits(active.session, layout);
          out.next({ type: 'failover', step, from, to: active.backend, reason: error.message });
          // Unsubscribed at the failover event: no run there (the finally hands its trial back).
          if (run.cancelled) return;
          if (layout.hasPast) {
            if (storeReadLate === undefined) disposeStore(kv, false);
            else if (components.kvSource !== undefined) {
              // The timed-out run may still read this store's tensors: the stream goes on with
              // another instance of its entry, and this one is disposed once that run settles.
              const stale = kv;
              kv = anotherStore(components.kvSource, ctx);
              storeReadLate.add(() => disposeStore(stale, true));
              storeReadLate = undefined;
            } else {
              // An instance the request passed has no twin to go on with: it is begun again once the
              // timed-out run has settled, waited for at most another run timeout (aborting,
              // unsubscribing or disposing stops the wait). A run still pending then fails the stream;
              // the store is released when that run settles (the finally).
              const lateRun = storeReadLate.settledWithin(sessions.runTimeoutMs ?? 0, () => storeStillRead(from));
              try {
                await waiter.wait(lateRun.settled as Promise<never>, false);
              } catch (stopped) {
                // The stream ends without waiting for the late run: its LateRelease counts it, and frees everything.
                if (stopped === HALTED) {
                  lateRunLeft = true;
                  break;
                }
                throw stopped;
              } finally {
                lateRun.stop();
              }
              storeReadLate = undefined;
              disposeStore(kv, false);
            }
            storeBegin(kv, { layout: storeLayout, batchSize: batch, session: active.session, padding: pads });
            promptCache?.begun(active.session, half !== undefined);
            rerotation?.reset();
          }
          feedIds = history;
          seen = 0;
          continue;
        }
        forwardEnd = performance.now();
        forwardMs = forwardEnd - forwardStart;
        failedThisStep = undefined;
        release();
        owned = outputs;
      }
      if (!outputs) {
        // The forward pass was given up on: the stream ends now (with ModelDisposedError when the
        // model was disposed, with `abort` when the request was aborted) and the run waits for the
        // pass, whose outputs are then disposed; the finally then releases its feeds and the cache.
        // A trial taken with a backend no pass was sent to goes back before anyone hears the
        // stream ended: a request made on completion finds the backend half-open again.
        if (untried !== undefined) {
          sessions.handBack(untried);
          untried = undefined;
        }
        if (sessions.closed) {
          failed = true;
          out.error(sessions.failure(active, undefined));
        }
        if (!out.closed) {
          for (const row of rows) flush(out, row, row.finish('abort'));
          out.next(doneEvent(rows, ttftMs, median(stepMs), layout.hasPast ? storeBytes(kv) : 0, performance.now() - started));
          out.complete();
        }
        // The pass given up on (not a timed-out run the stream was waiting for: its LateRelease counts that one).
        if (!lateRunLeft) await waiter.settled();
        return;
      }
      if (run.cancelled) return;
      // Aborted during the forward pass: its tokens are not emitted.
      if (isAborted(signal)) {
        for (const row of rows) flush(out, row, row.finish('abort'));
        break;
      }

      const logitsTensor = outputs['logits'];
      if (!logitsTensor) throw new BackendError('The model did not return "logits".', { backend: active.backend });
      // Positions per row: the fed length, or 1 where the graph keeps only the last (num_logits_to_keep).
      const seq = logitsTensor.dims[1]!;
      const data = logitsTensor.data as Float32Array;
      const logits: Float32Array[] = [];
      // Views, not copies (a 4 KB slice cost ~1.4 µs per row and step): outputs are JS-owned and stay
      // readable after dispose; processing that rewrites logits works on its own copy.
      // One row of one position (a batch-1 decode step): the output itself is that row.
      if (halfLogits) for (let r = 0; r < batch; r++) logits.push(float16ToFloat32(data, ((r + 1) * seq - 1) * vocab, (r + 1) * seq * vocab));
      else if (data.length === vocab) logits.push(data);
      else for (let r = 0; r < batch; r++) logits.push(data.subarray(((r + 1) * seq - 1) * vocab, (r + 1) * seq * vocab));

      let importance: Float32Array | undefined;
      if (observed) {
        const observation = { step, batchSize: batch, inputIds: feedIds, logits, outputs, layout, padding: pads, active: activeRows };
        for (const a of components.analyzers) {
          const data = runStage(a.owner, `analyzer "${a.name}"`, () => a.value.observe(observation));
          if (data !== undefined) out.next({ type: 'analysis', analyzer: a.name, step, data });
          if (importance === undefined) importance = analyzerImportance(a);
        }
        if (routerObserves) runStage(router.owner, `router "${router.name}" observe`, () => router.value.observe!(observation));
        for (const h of afterForwardHooks) runStage(h.owner, 'afterForward', () => h.hooks.afterForward!(observation));
      }
      seen += feedIds[0]!.length;
      // Unobserved, nothing ran since the forward pass but releasing its inputs: its end clock read will do.
      const samplingStart = observed ? performance.now() : forwardEnd;
      picking.step = step;
      const picked = nextTokens(rows, logits, picking);
      // One clock read ends sampling and starts detokenizing.
      const detokenizeStart = performance.now();
      const samplingMs = detokenizeStart - samplingStart;

      for (let r = 0; r < batch; r++) {
        const row = rows[r]!;
        if (!row.active) continue;
        const id = picked[r]!;
        if (eos.has(id)) {
          flush(out, row, row.finishAtEos(id));
          continue;
        }
        const index = row.generated.length;
        const text = row.accept(id);
        const released = row.active && row.generated.length >= maxTokens ? row.finish('length') : '';
        if (step === 0 && ttftMs === 0) ttftMs = performance.now() - started;
        // A view of a larger output (a prompt's every position, a batch's every row) would keep all
        // of it alive as long as the event: it gets a copy of its row. A batch-1 decode step's
        // output is its row, and float16 logits were converted into one.
        out.next(tokenEvent(r, index, id, text, halfLogits || data.length === vocab ? logits[r]! : logits[r]!.slice()));
        for (let i = 0; i < afterTokenHooks.length; i++) {
          const h = afterTokenHooks[i]!;
          runStage(h.owner, 'afterToken', () => h.hooks.afterToken!({ row: r, step, id, text }));
        }
        flush(out, row, released);
      }
      // One clock read ends detokenizing and starts the cache's append.
      const detokenizeEnd = performance.now();
      const detokenizeMs = detokenizeEnd - detokenizeStart;
      if (step === 0 && ttftMs === 0) ttftMs = detokenizeEnd - started;
      // The cache takes this step's keys and values after the tokens are out: nothing before
      // needs them, and the first token should not wait for them.
      let stepEnd = detokenizeEnd;
      if (layout.hasPast) {
        // The presents stay the loop's to release until the store has taken them.
        const presents = (owned = takePresents(outputs, presentNames, disposeTensors));
        if (half) half.fromGraph(active.session, presents, disposeTensors);
        rerotation?.restore(presents);
        storeAppend(kv, presents);
        owned = NOTHING_OWNED;
        if (router) applyRouter(router, kv, { step, batchSize: batch, layout: storeLayout, nextPosition: seen, padded, padding: pads, active: activeRows, importance });
        stepEnd = performance.now();
        kvMs += stepEnd - detokenizeEnd;
      }
      release();
      if (step > 0) stepMs.push(stepEnd - stepStart);
      if (emitMetrics) {
        const kvBytes = layout.hasPast ? storeBytes(kv) : 0;
        const inputTokens = feedIds[0]!.length;
        out.next(
          step === 0
            ? { type: 'metrics', step, inputTokens, forwardMs, kvMs, samplingMs, detokenizeMs, kvBytes, setupMs }
            : { type: 'metrics', step, inputTokens, forwardMs, kvMs, samplingMs, detokenizeMs, kvBytes },
        );
      }
      // Each row's next input: its last token, or padding once it has finished.
      let anyActive = false;
      tokens = [];
      for (let r = 0; r < batch; r++) {
        const row = rows[r]!;
        const next = row.active ? row.generated[row.generated.length - 1]! : generationConfig.padTokenId;
        anyActive ||= row.active;
        if (!row.active && row.endedAtStep < 0) {
          // Once per row and run: the branch was there anyway, so the steps add no work for this.
          row.endedAtStep = step;
          activeRows = frozenList(batch, (i) => rows[i]!.active);
        }
        tokens.push([next]);
        history[r]!.push(next);
      }
      if (!anyActive) break;
    }
    out.next(doneEvent(rows, ttftMs, median(stepMs), layout.hasPast ? storeBytes(kv) : 0, performance.now() - started));
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    if (untried !== undefined) sessions.handBack(untried);
    release();
    // The prompt cache keeps the store of a run that ended cleanly, unless a pass may still read it.
    const clean = !failed && storeReadLate === undefined && !lateRunLeft;
    const kept = promptCache?.settle(clean, kv, components.kvSource, components.router, history[0] ?? prompts[0]!, seen) ?? false;
    if (storeReadLate === undefined) {
      releaseInstances(claimed);
      if (ownsStore && !kept) disposeStore(kv, failed, components.kvPool);
    } else {
      // A run that timed out may still read the store: it stays claimed, and is disposed, only once
      // that run settles. Any other claim (a router instance the request passed) is released now.
      const store = kv;
      const owns = ownsStore;
      const storeClaim = claimed.filter((c) => c === store.value);
      releaseInstances(storeClaim.length === 0 ? claimed : claimed.filter((c) => c !== store.value));
      storeReadLate.add(() => {
        releaseInstances(storeClaim);
        if (owns) disposeStore(store, true);
      });
    }
  }
}

/** `owned` and `rotated` when a step holds no tensors: shared, never written. */
const NOTHING_OWNED: Readonly<Record<string, BackendTensor>> = Object.freeze({});
const NOTHING_ROTATED: readonly BackendTensor[] = Object.freeze([]);
const NOTHING_MADE: readonly (readonly BackendTensor[])[] = Object.freeze([]);
/** `claimed` until the run's claim succeeds. */
const NOTHING_CLAIMED: readonly object[] = Object.freeze([]);

/** The `random` of a run whose picks never draw (plain greedy decoding). */
const NEVER_DRAWN = (): number => {
  throw new Error('internal error: plain greedy decoding drew a random number');
};

/** The end-of-sequence set of a request that ignores EOS. */
const NO_EOS: ReadonlySet<number> = new Set();

/**
 * What an analyzer's `importance()` returns this step, or undefined without one (a falsy
 * `importance`, e.g. a class field left null, is none). The method is read, and its result
 * inspected, inside the stage too, so a getter that throws is a `PluginError` naming the analyzer;
 * the stage's name is built only on failure (this runs every observed step).
 */
function analyzerImportance(a: Owned<Analyzer>): Float32Array | undefined {
  try {
    const importance = a.value.importance;
    if (!importance) return undefined;
    const result = importance.call(a.value);
    return typeof result === 'object' && result !== null && !(result instanceof Float32Array)
      ? synchronousResult(a.owner, `analyzer "${a.name}" importance`, result)
      : result;
  } catch (cause) {
    throw stageFailure(a.owner, `analyzer "${a.name}" importance`, cause);
  }
}

/** One subscription's state its teardown shares with the run. */
interface LoopRun {
  /** Set by unsubscribing: the run stops at its next check. */
  cancelled: boolean;
  /** The run's wait for its forward passes, once the run got that far. */
  waiter: RunWaiter | undefined;
}

/**
 * Copies of the prompts for the start event: the run reads its own to the end, so what a
 * subscriber does with these cannot change what it feeds. Not frozen: `Object.freeze` on the
 * arrays cost ~4 µs before the first forward pass on the story model (first-token.mjs).
 */
function promptCopies(prompts: readonly (readonly number[])[]): readonly (readonly number[])[] {
  return prompts.map((p) => p.slice());
}

