import { ContextOverflowError } from '../errors/context-overflow-error.js';
import { BackendError } from '../errors/backend-error.js';
import { describeCause, quoteValue } from '../util/describe-cause.js';
import { isArray, readItem, readLength, readRequest } from './read-request.js';
import { checkSignal, isAborted } from './request-limits.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import type { BackendTensor } from '../spec/backend.js';
import type { ActiveSession } from '../backend/session-pool.js';
import { acquireUnlessHalted } from '../backend/acquire-unless-halted.js';
import type { KvCacheStore } from '../spec/kv-cache.js';
import type { NamedRef } from '../spec/request.js';
import type { GenerationContext } from './generation-context.js';
import { resolveComponents } from './resolve-components.js';
import { claimInstances, releaseInstances } from './instance-claims.js';
import { logSumExp } from './sampling/softmax.js';
import { runStage } from './stage-runner.js';
import { stageHooks } from './stage-hooks.js';
import { runBeforeForwardHooks } from './check-feeds.js';
import { takePresents } from './take-presents.js';
import { stepFeeds } from './step-feeds.js';
import { applyRouter } from './apply-router.js';
import { disposeStore, storeAppend, storeBegin, storeBytes, storeLength, storeMaterialize, storeSlotPositions } from './kv/store-calls.js';
import { cacheKeyRerotation } from './kv/rerotate-keys.js';
import type { AttentionRouter } from '../spec/attention-router.js';
import { median } from '../util/median.js';
import { halfCacheBridge } from './kv/half-cache-bridge.js';
import { float16ToFloat32 } from './float16.js';
import { LogitsCheck, logitsToKeepTensor } from './logits-to-keep.js';
import { HALTED, LateRelease, RunWaiter } from '../backend/run-waiter.js';

/** What {@link evaluatePerplexity} measures. */
export interface PerplexityResult {
  /** `exp(nll / tokens)`. */
  readonly perplexity: number;
  /** Summed negative log-likelihood (nats) over the predicted tokens. */
  readonly nll: number;
  /** Tokens predicted (input length minus one). */
  readonly tokens: number;
  /** KV store's bytes at rest after the last step (the last token is scored, never fed). */
  readonly kvBytes: number;
  /** What a full-precision (float32) cache of every fed token would hold (no compression, no eviction): `tokens` positions. */
  readonly kvBytesFp32: number;
  /** Median milliseconds per single-token step; 0 when the prefill scored every token. */
  readonly msPerToken: number;
}

/** What `model.evaluate()` scores: a text's ids, fed through the same incremental KV path generation uses. */
export interface PerplexityRequest {
  readonly inputIds: readonly number[];
  /** Tokens fed in the first forward pass (chunked prefill); the rest go one per step. Default 1. */
  readonly prefillTokens?: number;
  /**
   * KV-cache store, as in generation: a registered name, `{ name, options }`, or an instance (which
   * serves one run at a time: a second run on it while the first is going fails).
   */
  readonly kv?: NamedRef | KvCacheStore;
  /** Attention router applied after every step, as in generation. */
  readonly router?: NamedRef | AttentionRouter;
  /**
   * Stops the evaluation: the promise rejects at once with the signal's `reason` (an `AbortError`
   * DOMException for a plain `abort()`), without waiting for a forward pass in flight; its tensors
   * and KV store are released once that pass settles (until then the evaluation counts in
   * `activeRuns`). The pass's run gets a signal that aborts with it, for a backend that can cancel.
   */
  readonly signal?: AbortSignal;
}

/** Every field of a `PerplexityRequest` (a record, so the compiler checks none is missing). */
const PERPLEXITY_REQUEST_FIELDS: Record<keyof PerplexityRequest, true> = { inputIds: true, prefillTokens: true, kv: true, router: true, signal: true };
const PERPLEXITY_REQUEST_KEYS = Object.keys(PERPLEXITY_REQUEST_FIELDS) as (keyof PerplexityRequest)[];

/**
 * `inputIds` read once into a plain list of at least two vocabulary ids that fits the context. A
 * list longer than the context is refused before its ids are read, and reading stops at the first
 * id that is not one, so a huge or sparse array costs nothing.
 */
function readIds(given: unknown, vocabSize: number, contextLength: number): number[] {
  const typed = ArrayBuffer.isView(given) && !(given instanceof DataView);
  if (given === undefined || !(typed || isArray(given, 'inputIds'))) {
    throw new InvalidOptionsError(
      given === undefined
        ? 'evaluate needs inputIds, the token ids to score, e.g. { inputIds: model.tokenizer.encode(text) }.'
        : `inputIds must be a list of token ids (got ${quoteValue(given)}).`,
      { option: 'inputIds' },
    );
  }
  const list = given as ArrayLike<unknown>;
  const n = readLength(list, 'inputIds');
  if (n < 2) {
    throw new InvalidOptionsError(`Perplexity needs at least two tokens (got ${n}): the first is context only, each later one is scored.`, { option: 'inputIds' });
  }
  if (n > contextLength) {
    throw new ContextOverflowError(`The text has ${n} tokens but the model's context is ${contextLength}.`, { promptTokens: n, contextLength });
  }
  const ids = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const id = readItem(list, i, 'inputIds');
    if (!(typeof id === 'number' && Number.isInteger(id) && id >= 0 && id < vocabSize)) {
      throw new InvalidOptionsError(`inputIds must be integers in [0, ${vocabSize}) (inputIds[${i}] is ${id === undefined ? 'missing: the array has a hole there' : quoteValue(id)}).`, { option: 'inputIds' });
    }
    ids[i] = id;
  }
  return ids;
}

/**
 * Perplexity of `inputIds` through the same incremental path generation uses: a prefill of the
 * first tokens, then one token per step through the KV store, scoring each next token. The
 * runtime's `beforeForward` hooks run before each forward pass, as in generation (graph inputs a
 * plugin feeds); the other hooks do not: the model's own logits are scored.
 */
export async function evaluatePerplexity(ctx: GenerationContext, given: PerplexityRequest): Promise<PerplexityResult> {
  // Each field read once, here: the evaluation never reads the caller's object again.
  const request = readRequest<PerplexityRequest>(given, PERPLEXITY_REQUEST_KEYS, 'the evaluate request', () =>
    new InvalidOptionsError('evaluate takes a request object, e.g. { inputIds: model.tokenizer.encode(text) } (not the ids themselves).', { option: 'inputIds' }),
  );
  const ids = readIds(request.inputIds, ctx.config.vocabSize, ctx.config.maxPositions);
  const n = ids.length;
  const prefill = request.prefillTokens ?? 1;
  if (!Number.isInteger(prefill) || prefill < 1 || prefill >= n) {
    throw new InvalidOptionsError(`prefillTokens must be an integer in [1, ${n - 1}] (got ${quoteValue(request.prefillTokens)}).`, { option: 'prefillTokens' });
  }
  const { signal } = request;
  checkSignal(signal);
  const { layout } = ctx;
  const components = resolveComponents(ctx.registry, {
    ...(request.kv === undefined ? {} : { kv: request.kv }),
    ...(request.router === undefined ? {} : { router: request.router }),
  }, ctx);
  const { kv, router, kvPool } = components;
  const vocab = ctx.config.vocabSize;
  const presentNames = ctx.presentNames;
  const { beforeForward } = stageHooks(ctx.hooks);
  let nll = 0;
  const stepMs: number[] = [];
  /** Forward passes so far: the step number routers and hooks see (0 for the prefill, as in generation). */
  let step = 0;
  let owned: Record<string, BackendTensor> = {};
  /** Past keys re-rotated to cache positions for this step (positions: 'cache'). */
  let rotated: BackendTensor[] = [];
  /** float16 copies of this step's past feeds (a float16 cache in a float32 store). */
  let halved: BackendTensor[] = [];
  // A session whose tensors are garbage-collected gets them dropped, not disposed (set with the backend).
  let disposeTensors = true;
  const release = (): void => {
    if (disposeTensors) {
      for (const t of Object.values(owned)) t.dispose();
      for (const t of rotated) t.dispose();
      for (const t of halved) t.dispose();
    }
    owned = {};
    rotated = [];
    halved = [];
  };
  // A store instance the request passed is this run's to dispose only once claimed: a failed
  // claim leaves it to the run using it. Anything else (made for this run, or from the pool) is.
  let ownsStore = kv.owner !== 'request';
  let claimed: readonly object[] = [];
  let failed = false;
  /** The backend taken, for a half-open trial to go back if no step finished (see the finally). */
  let untried: ActiveSession | undefined;
  /**
   * The evaluation's wait for its forward passes, given up at once when the signal aborts or the
   * model is disposed (see RunWaiter); the pass given up on then holds the feeds and the store
   * until it settles (see the finally).
   */
  let waiter: RunWaiter | undefined;
  try {
    waiter = new RunWaiter(ctx.sessions, signal);
    // Like generation: the request's own store and router instances serve one run at a time.
    claimed = claimInstances(components);
    ownsStore = true;
    // With failover, like generation: after the request's own checks, the first backend whose
    // circuit breaker allows a call.
    const taken = ctx.failover ? await acquireUnlessHalted(ctx.sessions, waiter) : ctx.sessions.current;
    // Halted while a backend's session opened: the evaluation ends now, as when halted during a pass.
    if (taken === undefined) throw ctx.sessions.closed ? ctx.sessions.failure(ctx.sessions.current, undefined) : evaluationAborted(signal);
    const active = (untried = taken);
    const session = active.session;
    disposeTensors = session.garbageCollectedTensors !== true;
    // `positions` as read and checked when the run resolved the router.
    const positionMode = router?.positions ?? 'absolute';
    // Read inside a stage: a getter that throws is a PluginError naming the router.
    const routerObserves = router !== undefined && runStage(router.owner, `router "${router.name}" observe`, () => Boolean(router.value.observe));
    const rerotation = cacheKeyRerotation(positionMode, layout, ctx.config, 1);
    const half = halfCacheBridge(layout, kv, router, rerotation !== undefined);
    const storeLayout = half?.layout ?? layout;
    if (layout.hasPast) storeBegin(kv, { layout: storeLayout, batchSize: 1, session });
    // One check for every pass: each must return the logits of every position it is fed to score.
    const logitsCheck = new LogitsCheck(1, vocab);
    let done = 0;
    while (done < n - 1) {
      if (isAborted(signal)) throw abortReason(signal!);
      const start = performance.now();
      const chunk = done === 0 ? ids.slice(0, prefill) : [ids[done]!];
      const fed = layout.hasPast ? chunk : ids.slice(0, done + chunk.length);
      const pastLength = layout.hasPast ? storeLength(kv) : 0;
      const slots = layout.hasPast ? storeSlotPositions(kv, layout.numKvHeads)[0] ?? [] : [];
      owned = stepFeeds(session, layout, [fed], ONE_ROW_UNPADDED, {
        slotPositions: slots,
        nextPosition: layout.hasPast ? done : 0,
        positionMode,
      });
      // Every fed position is scored: a graph with num_logits_to_keep computes logits for all of the chunk.
      if (layout.logitsToKeep) owned[layout.logitsToKeep.name] = logitsToKeepTensor(session, layout, chunk.length);
      const feeds: Record<string, BackendTensor> = layout.hasPast ? Object.assign({}, owned, storeMaterialize(kv, pastLength)) : Object.assign({}, owned);
      if (rerotation) {
        rotated = rerotation.apply(session, feeds, storeSlotPositions(kv, layout.numKvHeads), ONE_ROW_UNPADDED);
        rerotation.record(done, owned['position_ids']!);
      }
      if (half) halved = half.toGraph(session, feeds);
      runBeforeForwardHooks(beforeForward, { step, batchSize: 1, pastLength, session }, feeds);
      // Logits of every position fed (for a graph without a past, at least the chunk's), checked by
      // the pool before its breaker counts the run: the wrong size is the backend's failure.
      logitsCheck.fed = fed.length;
      logitsCheck.least = chunk.length;
      let outputs: Record<string, BackendTensor>;
      try {
        outputs = await waiter.wait(ctx.sessions.run(active, feeds, waiter.runOptionsFor(session), logitsCheck, waiter), disposeTensors);
      } catch (thrown) {
        if (thrown !== HALTED) throw thrown;
        // Given up on while pending (the finally keeps the feeds until it settles).
        throw ctx.sessions.closed ? ctx.sessions.failure(active, undefined) : evaluationAborted(signal);
      }
      release();
      owned = outputs;
      const logitsTensor = outputs['logits'];
      if (!logitsTensor) throw new BackendError('The model did not return "logits".', { backend: active.backend });
      // float16 logits (fp16 exports) are converted whole: every row of the chunk is scored.
      const logits = layout.logitsType === 'float16' ? float16ToFloat32(logitsTensor.data as Uint16Array, 0, logitsTensor.data.length) : (logitsTensor.data as Float32Array);
      // The fed length, or the chunk's where the graph keeps only that many (num_logits_to_keep).
      const seq = logitsTensor.dims[1]!;
      if (routerObserves) {
        const last = logits.slice((seq - 1) * vocab, seq * vocab);
        runStage(router.owner, `router "${router.name}" observe`, () =>
          router.value.observe!({ step, batchSize: 1, inputIds: [fed], logits: [last], outputs, layout, padding: ONE_ROW_UNPADDED, active: ONE_ROW_ACTIVE }),
        );
      }
      // Row `seq - chunk.length + j` of the logits predicts ids[done + j + 1].
      for (let j = 0; j < chunk.length; j++) {
        const target = ids[done + j + 1];
        if (target === undefined) break;
        const row = logits.subarray((seq - chunk.length + j) * vocab, (seq - chunk.length + j + 1) * vocab);
        const loss = logSumExp(row) - row[target]!;
        // NaN logits (or +Infinity ones) leave no probability to score; an -Infinity target logit
        // alone is a valid infinite loss.
        if (Number.isNaN(loss)) {
          throw new BackendError(
            `The model's logits predicting token ${done + j + 1} are not finite (NaN or +Infinity), so the perplexity is undefined; the backend or the graph is at fault.`,
            { backend: active.backend },
          );
        }
        nll += loss;
      }
      if (layout.hasPast) {
        // The presents stay ours to release until the store has taken them.
        const presents = (owned = takePresents(outputs, presentNames, disposeTensors));
        if (half) half.fromGraph(session, presents, disposeTensors);
        rerotation?.restore(presents);
        storeAppend(kv, presents);
        owned = {};
        if (router) {
          applyRouter(router, kv, { step, batchSize: 1, layout: storeLayout, nextPosition: done + chunk.length, padded: false, padding: ONE_ROW_UNPADDED, active: ONE_ROW_ACTIVE, importance: undefined });
        }
      }
      release();
      if (done > 0) stepMs.push(performance.now() - start);
      done += chunk.length;
      step++;
    }
    const tokens = n - 1;
    const cached = layout.hasPast ? n - 1 : 0; // what a full-precision cache of every token would hold
    return {
      perplexity: Math.exp(nll / tokens),
      nll,
      tokens,
      kvBytes: layout.hasPast ? storeBytes(kv) : 0,
      kvBytesFp32: cached * layout.numLayers * 2 * layout.numKvHeads * layout.headDim * 4,
      msPerToken: median(stepMs),
    };
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    // No step finished: the first run was never sent (aborted, a hook or the store failed first),
    // or it was and reported to the breaker, which ended any trial (handing back then does nothing).
    if (step === 0 && untried !== undefined) ctx.sessions.handBack(untried);
    const gaveUp = waiter?.gaveUp === true;
    // A pass past its timeout goes on: it may still read its feeds and the cache.
    const timedOut = gaveUp ? undefined : waiter?.abandoned();
    // Nothing is waited for any more: the request's signal and the model's disposal are let go now.
    waiter?.close();
    if (!gaveUp && timedOut === undefined) {
      releaseInstances(claimed);
      release();
      if (ownsStore) disposeStore(kv, failed, kvPool);
    } else {
      // The pass may still read its feeds and the store: they (and the store's claim) are released
      // once it settles. Any other claim (a router instance the request passed) is released now.
      const storeClaim = claimed.filter((c) => c === kv.value);
      releaseInstances(storeClaim.length === 0 ? claimed : claimed.filter((c) => c !== kv.value));
      const cleanUp = (): void => {
        releaseInstances(storeClaim);
        release();
        if (ownsStore) disposeStore(kv, failed, kvPool);
      };
      if (gaveUp) {
        // A pass given up on: the evaluation counts in `activeRuns` until it settles (the caller's
        // count ends when this returns).
        const { activity } = ctx;
        activity.runs++;
        void waiter!.settled().then(() => {
          activity.runs--;
          cleanUp();
        });
      } else {
        // Past its timeout: likewise (counted in `activeRuns`, and waited for by `model.dispose()`).
        new LateRelease(ctx.sessions, timedOut!, ctx.activity).add(cleanUp);
      }
    }
  }
}

/** The one row an evaluation runs: never padded, fed real ids every step (shared, frozen). */
const ONE_ROW_UNPADDED: readonly number[] = Object.freeze([0]);
const ONE_ROW_ACTIVE: readonly boolean[] = Object.freeze([true]);

/**
 * What an aborted evaluation rejects with: the signal's reason, or an AbortError when it has none.
 * A `reason` getter that throws is an `InvalidOptionsError` naming `signal`.
 */
function abortReason(signal: AbortSignal): unknown {
  let reason: unknown;
  try {
    reason = signal.reason;
  } catch (cause) {
    return new InvalidOptionsError(`signal.reason could not be read: ${describeCause(cause)}`, { option: 'signal', cause });
  }
  return reason ?? new DOMException('The evaluation was aborted.', 'AbortError');
}

/** What an evaluation halted by its signal rejects with: the signal's reason, or an AbortError. */
function evaluationAborted(signal: AbortSignal | undefined): unknown {
  return signal === undefined ? new DOMException('The evaluation was aborted.', 'AbortError') : abortReason(signal);
}
