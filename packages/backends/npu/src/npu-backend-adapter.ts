import {
  BackendError,
  checkModelSource,
  describeCause,
  InvalidOptionsError,
  onRejection,
  quoteValue,
  WeftError,
  type BackendAdapter,
  type BackendProbe,
  type InferenceSession,
  type ModelSource,
  type SessionOptions,
} from '@weft/core';
import type { NpuEvent, ProviderRejection } from './events.js';
import { checkFacts, copySessionOptions, normaliseNpuOptions, validateSessionOptions, type NpuAdapterOptions } from './npu-backend-options.js';
import { NpuSession } from './npu-session.js';
import { planProviders, type PlannedProvider, type ProviderPlan } from './plan.js';
import { detectPlatformFacts, type PlatformFacts } from './platform.js';
import type { ProviderOptions } from './providers.js';
import { defaultSessionFactory } from './session-factory.js';

/**
 * Said right after "no NPU execution provider is usable on …", before the details (core cuts a
 * long reason): `fallback: 'cpu'` ends a chain that has an NPU provider, it does not stand in for
 * one, so a runtime with only this backend has none here.
 */
const NO_NPU_ADVICE = "(fallback 'cpu' needs one; add nodeBackend() or, in a browser, webBackend() to run on the CPU)";

/**
 * Weft backend for NPUs: plans an ordered chain of onnxruntime execution providers for this
 * platform (ending on the CPU), then creates the session on the first provider that loads,
 * reporting every provider it passes over as {@link NpuEvent}s (`onEvent`, and `events`). An
 * `onEvent` listener that throws (or returns a promise that rejects) never changes the load: see
 * `NpuAdapterOptions.onEvent`.
 */
export class NpuBackendAdapter implements BackendAdapter {
  readonly specificationVersion = 'v1' as const;
  readonly name = 'npu';
  /** Every event this adapter emitted, oldest first. */
  readonly events: NpuEvent[] = [];
  private readonly providers: readonly ProviderOptions[] | undefined;
  /** The checked copy of the constructor's options (the caller's object is not read again). */
  private readonly options: NpuAdapterOptions;
  private facts: Promise<PlatformFacts> | undefined;
  /** The facts once known: given as an object, or after the first detection (or `facts()`) answered. */
  private knownFacts: PlatformFacts | undefined;

  constructor(options: NpuAdapterOptions = {}) {
    const checked = normaliseNpuOptions(options);
    this.options = checked.options;
    this.providers = checked.providers;
    if (typeof this.options.facts === 'object') this.knownFacts = this.options.facts;
  }

  /**
   * Whether `createSession` can take a graph's external data files as bytes (`ModelSource.externalData`,
   * what core hands over for an `http(s)://` model folder). False when every provider of this
   * adapter's chain (the platform's order or `providers`, with `defaults.executionProviders`)
   * opens through onnxruntime-node, which reads such files only from disk: core then passes this
   * backend over before it downloads them. True when the chain has `webnn` or `wasm`
   * (onnxruntime-web takes them), with a `sessionFactory` (it may), and before the platform facts
   * are known (core probes a backend, which learns them, before it loads with it). A load's own
   * `session.executionProviders` is not seen here.
   */
  get externalDataFromBytes(): boolean {
    if (this.options.sessionFactory !== undefined || this.knownFacts === undefined) return true;
    try {
      return this.planWith(this.knownFacts, this.options.defaults ?? {}).chain.some((p) => p.runtime === 'onnxruntime-web');
    } catch {
      return true;
    }
  }

  /**
   * The platform facts planning uses (detected once, or the injected ones). A `facts()` function's
   * answer is checked like `facts` itself (`InvalidOptionsError`); one that throws is a
   * `BackendError`, and is asked again next time.
   */
  platformFacts(): Promise<PlatformFacts> {
    const given = this.options.facts;
    if (this.facts) return this.facts;
    const facts = given === undefined ? detectPlatformFacts() : typeof given === 'function' ? askFacts(given) : Promise.resolve(given);
    this.facts = facts;
    facts.then(
      (known) => {
        if (this.facts === facts) this.knownFacts = known;
      },
      () => {
        if (this.facts === facts) this.facts = undefined;
      },
    );
    return facts;
  }

  /**
   * The chain this adapter would try for a load with these session options (over `defaults`, as
   * in `createSession`; the probe plans with `defaults` alone).
   */
  async plan(options: SessionOptions = {}): Promise<ProviderPlan> {
    const merged = this.withDefaults(options);
    return this.planWith(await this.platformFacts(), merged);
  }

  /** A load's session options, copied and checked, over `defaults`. */
  private withDefaults(options: SessionOptions): SessionOptions {
    // Copied (each option read once) and checked before the merge: a null or a list would spread as nothing.
    const own = copySessionOptions(options);
    validateSessionOptions(own);
    return { ...this.options.defaults, ...own };
  }

  private planWith(facts: PlatformFacts, merged: SessionOptions): ProviderPlan {
    const only = validateSessionOptions(merged);
    return planProviders(facts, { providers: this.providers, only, fallback: this.options.fallback, requireFullOffload: this.options.requireFullOffload });
  }

  /**
   * Available only when at least one provider that targets an NPU is offered here (so `auto`
   * falls through to the node backend on machines without one). Planning only: a provider that
   * is offered can still fail to load a given graph, which `createSession` handles by falling back.
   */
  async probe(): Promise<BackendProbe> {
    try {
      const plan = await this.plan();
      const npu = plan.chain.filter((p) => p.device === 'npu');
      const skipped = plan.skipped.map((s) => `${s.provider}: ${s.reason}`);
      const planned = plan.chain.filter((p) => p.note).map((p) => `${p.name}: ${p.note}`);
      if (npu.length === 0) {
        const why = skipped.length + planned.length > 0 ? [...skipped, ...planned].join('; ') : 'this platform has no NPU provider in the chain';
        return { available: false, reason: `no NPU execution provider is usable on ${plan.platform} ${plan.arch} ${NO_NPU_ADVICE}: ${why}` };
      }
      const notes = [...planned, ...skipped.map((s) => `skipped ${s}`)];
      return { available: true, executionProviders: plan.chain.map((p) => p.name), reason: notes.length > 0 ? notes.join('; ') : undefined };
    } catch (error) {
      return { available: false, reason: describeCause(error) };
    }
  }

  /**
   * Throws what `createSession` would for `options` before trying a provider: an
   * `InvalidOptionsError` for options it refuses, a `BackendError` when they leave no provider to
   * try here (e.g. `executionProviders` naming only providers this platform lacks). Core asks it
   * of failover fallbacks at load.
   */
  async validateSessionOptions(options: SessionOptions): Promise<void> {
    const plan = await this.plan(options);
    if (plan.chain.length > 0) return;
    const list = plan.skipped.map((s) => `${s.provider} (skipped: ${s.reason})`).join('; ');
    throw new BackendError(`No execution provider of the npu backend is left to try on ${plan.platform} ${plan.arch}: ${list || 'the chain is empty'}`, { backend: 'npu' });
  }

  async createSession(source: ModelSource, options: SessionOptions = {}): Promise<InferenceSession> {
    checkModelSource(source);
    const merged = this.withDefaults(options);
    const plan = this.planWith(await this.platformFacts(), merged);
    const { executionProviders: _, ...sessionOptions } = merged;
    const emit = this.emitter();
    emit({ type: 'plan', platform: plan.platform, arch: plan.arch, chain: plan.chain, skipped: plan.skipped });
    const rejected: ProviderRejection[] = [];
    for (const s of plan.skipped) {
      emit({ type: 'provider-skipped', provider: s.provider, reason: s.reason });
      rejected.push(Object.freeze({ provider: s.provider, stage: 'plan', reason: s.reason }));
    }
    const factory = this.options.sessionFactory ?? defaultSessionFactory;
    const requireFullOffload = this.options.requireFullOffload ?? false;
    const timeoutMs = this.options.providerTimeoutMs;
    let tried = 0;
    for (const provider of plan.chain) {
      emit({ type: 'provider-attempt', provider: provider.name, device: provider.device, ort: provider.ort });
      let session: NpuSession;
      try {
        const made = await within(
          () => factory({ provider, source, options: sessionOptions, requireFullOffload }),
          timeoutMs,
          () => new BackendError(`${provider.name} did not open a session within providerTimeoutMs (${timeoutMs} ms)`, { backend: 'npu' }),
        );
        session = await wrapSession(made, provider, Object.freeze([...rejected]));
      } catch (error) {
        const reason = describeCause(error);
        emit({ type: 'provider-failed', provider: provider.name, reason, error });
        // As core treats a backend's errors: a Weft error other than a BackendError is about the
        // request, not this provider, and ends the load. A missing or unreadable file fails the same
        // way on every provider; options a provider refuses are the caller's to fix, and falling
        // back (to the CPU) would hide the mistake.
        if (InvalidOptionsError.isInstance(error)) {
          throw new InvalidOptionsError(`The ${provider.name} provider of the npu backend refused its options: ${error.message}`, {
            ...(error.option !== undefined ? { option: error.option } : {}),
            cause: error,
          });
        }
        if (WeftError.isInstance(error) && error.code !== 'backend') throw error;
        rejected.push(Object.freeze({ provider: provider.name, stage: 'session', reason }));
        tried++;
        continue;
      }
      emit({ type: 'provider-selected', provider: provider.name, device: provider.device, fallback: tried > 0 || plan.skipped.length > 0, rejected: session.rejected });
      return session;
    }
    const all = Object.freeze([...rejected]);
    emit({ type: 'exhausted', rejected: all });
    const where = source.kind === 'path' ? source.path : `${source.bytes.byteLength} bytes`;
    const list = rejected.map((r) => `${r.provider} (${r.stage === 'plan' ? 'skipped' : 'failed'}: ${r.reason})`).join('; ');
    throw new BackendError(`No execution provider of the npu backend could load ${where}: ${list || 'the chain is empty'}`, {
      backend: 'npu',
      cause: all,
    });
  }

  /**
   * One load's `emit`: records the event in `events`, then hands it to `onEvent`. Nothing the
   * listener does ends the load: its first failure in this load (a throw, or a rejection of a
   * promise it returns) is reported with `console.warn`, and later ones are not.
   */
  private emitter(): (event: NpuEvent) => void {
    let reported = false;
    const report = (event: NpuEvent, error: unknown): void => {
      if (reported) return;
      reported = true;
      warnListenerFailure(event.type, error);
    };
    return (event) => {
      this.events.push(event);
      const listener = this.options.onEvent;
      if (listener === undefined) return;
      let result: unknown;
      try {
        result = listener(event);
      } catch (error) {
        report(event, error);
        return;
      }
      onRejection(result, (error) => report(event, error));
    };
  }
}

/** Says on the console that the `onEvent` listener failed on an event of type `type`; never throws. */
function warnListenerFailure(type: NpuEvent['type'], error: unknown): void {
  try {
    globalThis.console?.warn(
      `@weft/backend-npu: the onEvent listener failed on a "${type}" event (${describeCause(error)}). The event is still in adapter.events and the load went on; later failures of the listener during this load are not reported.`,
      error,
    );
  } catch {
    // A console that cannot be written to: the load goes on regardless.
  }
}

/**
 * The factory's answer as an {@link NpuSession}, or a `BackendError` saying why it is not a
 * session (what it returned is released first, so nothing half-made is left open).
 */
async function wrapSession(made: unknown, provider: PlannedProvider, rejected: readonly ProviderRejection[]): Promise<NpuSession> {
  let problem = sessionProblem(made);
  if (problem === undefined) {
    try {
      return new NpuSession(made as InferenceSession, provider.name, provider.device, rejected);
    } catch (cause) {
      problem = `a session that could not be read (${describeCause(cause)})`;
    }
  }
  await releaseQuietly(made);
  throw new BackendError(`sessionFactory returned ${problem} for ${provider.name}`, { backend: 'npu' });
}

/** Why a factory's result is not a session (it must be one to run on), or undefined. Never throws. */
function sessionProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return `${quoteValue(value)}, not a session`;
  try {
    const s = value as Partial<Record<keyof InferenceSession, unknown>>;
    const missing = (['run', 'release', 'createTensor'] as const).filter((m) => typeof s[m] !== 'function');
    if (missing.length > 0) return `an object without ${missing.map((m) => `${m}()`).join(', ')}, not a session`;
    if (!Array.isArray(s.inputNames) || !Array.isArray(s.outputNames)) return 'a session without inputNames and outputNames lists';
    if (!Array.isArray(s.inputMetadata) || !Array.isArray(s.outputMetadata)) return 'a session without inputMetadata and outputMetadata lists';
  } catch (cause) {
    return `a session that could not be read (${describeCause(cause)})`;
  }
  return undefined;
}

/** Releases what a factory returned, if it can be released; never throws. */
async function releaseQuietly(value: unknown): Promise<void> {
  try {
    const release = (value as { release?: unknown } | null | undefined)?.release;
    if (typeof release === 'function') await release.call(value);
  } catch {
    // Nothing to report: the provider is already being passed over.
  }
}

/**
 * Starts `start` and waits for it at most `ms` (no bound when undefined). A synchronous throw
 * rejects like a rejected promise. A value that arrives after the wait ended is released.
 */
function within<T>(start: () => T | PromiseLike<T>, ms: number | undefined, onTimeout: () => Error): Promise<T> {
  let work: Promise<T>;
  try {
    work = Promise.resolve(start());
  } catch (cause) {
    work = Promise.reject(cause as unknown);
  }
  if (ms === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    let waiting = true;
    const timer = setTimeout(() => {
      waiting = false;
      reject(onTimeout());
    }, ms);
    work.then(
      (value) => {
        if (waiting) {
          waiting = false;
          clearTimeout(timer);
          resolve(value);
        } else void releaseQuietly(value);
      },
      (cause: unknown) => {
        if (!waiting) return;
        waiting = false;
        clearTimeout(timer);
        reject(cause);
      },
    );
  });
}

/** Calls the `facts` option and checks its answer. */
async function askFacts(facts: () => Promise<PlatformFacts>): Promise<PlatformFacts> {
  let answer: unknown;
  try {
    answer = await facts();
  } catch (cause) {
    throw new BackendError(`The npu backend's facts() failed: ${describeCause(cause)}`, { backend: 'npu', cause });
  }
  return checkFacts(answer, 'facts()');
}
