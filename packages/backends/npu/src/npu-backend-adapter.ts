import {
  BackendError,
  describeCause,
  quoteValue,
  WeftError,
  type BackendAdapter,
  type BackendProbe,
  type InferenceSession,
  type ModelSource,
  type SessionOptions,
} from '@weft/core';
import type { NpuEvent, ProviderRejection } from './events.js';
import { validateFacts, validateNpuOptions, validateSessionOptions, type NpuAdapterOptions } from './npu-backend-options.js';
import { NpuSession } from './npu-session.js';
import { planProviders, type ProviderPlan } from './plan.js';
import { detectPlatformFacts, type PlatformFacts } from './platform.js';
import type { ProviderName, ProviderOptions } from './providers.js';
import { defaultSessionFactory } from './session-factory.js';

/**
 * Weft backend for NPUs: plans an ordered chain of onnxruntime execution providers for this
 * platform (ending on the CPU), then creates the session on the first provider that loads,
 * reporting every provider it passes over as {@link NpuEvent}s (`onEvent`, and `events`).
 */
export class NpuBackendAdapter implements BackendAdapter {
  readonly specificationVersion = 'v1' as const;
  readonly name = 'npu';
  /** Every event this adapter emitted, oldest first. */
  readonly events: NpuEvent[] = [];
  private readonly providers: ProviderOptions[] | undefined;
  private facts: Promise<PlatformFacts> | undefined;

  constructor(private readonly options: NpuAdapterOptions = {}) {
    this.providers = validateNpuOptions(options);
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
    facts.catch(() => {
      if (this.facts === facts) this.facts = undefined;
    });
    return facts;
  }

  /** The chain this adapter would try for a load with these session options. */
  async plan(options: SessionOptions = {}): Promise<ProviderPlan> {
    const only = validateSessionOptions(options);
    return planProviders(await this.platformFacts(), { providers: this.providers, only, fallback: this.options.fallback });
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
      if (npu.length === 0) {
        const why = skipped.length > 0 ? skipped.join('; ') : 'this platform has no NPU provider in the chain';
        return { available: false, reason: `no NPU execution provider is usable on ${plan.platform} ${plan.arch}: ${why}` };
      }
      const notes = [...plan.chain.filter((p) => p.note).map((p) => `${p.name}: ${p.note}`), ...skipped.map((s) => `skipped ${s}`)];
      return { available: true, executionProviders: plan.chain.map((p) => p.name), reason: notes.length > 0 ? notes.join('; ') : undefined };
    } catch (error) {
      return { available: false, reason: (error as Error).message };
    }
  }

  async createSession(source: ModelSource, options: SessionOptions = {}): Promise<InferenceSession> {
    // Checked before the merge too: a null or a list would spread as nothing.
    validateSessionOptions(options);
    const merged = { ...this.options.defaults, ...options };
    const plan = await this.plan(merged);
    const { executionProviders: _, ...sessionOptions } = merged;
    this.emit({ type: 'plan', platform: plan.platform, arch: plan.arch, chain: plan.chain, skipped: plan.skipped });
    const rejected: ProviderRejection[] = [];
    for (const s of plan.skipped) {
      this.emit({ type: 'provider-skipped', provider: s.provider, reason: s.reason });
      rejected.push({ provider: s.provider, stage: 'plan', reason: s.reason });
    }
    const factory = this.options.sessionFactory ?? defaultSessionFactory;
    const requireFullOffload = this.options.requireFullOffload ?? false;
    let tried = 0;
    for (const provider of plan.chain) {
      this.emit({ type: 'provider-attempt', provider: provider.name, device: provider.device, ort: provider.ort });
      let inner: InferenceSession;
      try {
        const made: unknown = await factory({ provider, source, options: sessionOptions, requireFullOffload });
        const problem = sessionProblem(made);
        if (problem !== undefined) {
          await releaseQuietly(made);
          throw new BackendError(`sessionFactory returned ${problem} for ${provider.name}`, { backend: 'npu' });
        }
        inner = made as InferenceSession;
      } catch (error) {
        // A missing or unreadable file fails the same way on every provider: stop at once.
        if (WeftError.isInstance(error) && error.code === 'model-load') throw error;
        const reason = describeCause(error);
        this.emit({ type: 'provider-failed', provider: provider.name, reason, error });
        rejected.push({ provider: provider.name, stage: 'session', reason });
        tried++;
        continue;
      }
      const session = new NpuSession(inner, provider.name, provider.device, [...rejected]);
      try {
        this.emit({ type: 'provider-selected', provider: provider.name, device: provider.device, fallback: tried > 0 || plan.skipped.length > 0, rejected: session.rejected });
      } catch (error) {
        await session.release();
        throw error;
      }
      return session;
    }
    this.emit({ type: 'exhausted', rejected: [...rejected] });
    const where = source.kind === 'path' ? source.path : `${source.bytes.byteLength} bytes`;
    const list = rejected.map((r) => `${r.provider} (${r.stage === 'plan' ? 'skipped' : 'failed'}: ${r.reason})`).join('; ');
    throw new BackendError(`No execution provider of the npu backend could load ${where}: ${list || 'the chain is empty'}`, {
      backend: 'npu',
      cause: rejected,
    });
  }

  private emit(event: NpuEvent): void {
    this.events.push(event);
    this.options.onEvent?.(event);
  }
}

/** Why a factory's result is not a session (it must be one to run on), or undefined. */
function sessionProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return `${quoteValue(value)}, not a session`;
  const s = value as Partial<Record<keyof InferenceSession, unknown>>;
  const missing = (['run', 'release', 'createTensor'] as const).filter((m) => typeof s[m] !== 'function');
  if (missing.length > 0) return `an object without ${missing.map((m) => `${m}()`).join(', ')}, not a session`;
  if (!Array.isArray(s.inputNames) || !Array.isArray(s.outputNames)) return 'a session without inputNames and outputNames lists';
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

/** Calls the `facts` option and checks its answer. */
async function askFacts(facts: () => Promise<PlatformFacts>): Promise<PlatformFacts> {
  let answer: unknown;
  try {
    answer = await facts();
  } catch (cause) {
    throw new BackendError(`The npu backend's facts() failed: ${describeCause(cause)}`, { backend: 'npu', cause });
  }
  validateFacts(answer as PlatformFacts, 'facts()');
  return answer as PlatformFacts;
}
