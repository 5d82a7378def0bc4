import {
  BackendError,
  WeftError,
  type BackendAdapter,
  type BackendProbe,
  type InferenceSession,
  type ModelSource,
  type SessionOptions,
} from '@weft/core';
import type { NpuEvent, ProviderRejection } from './events.js';
import { validateNpuOptions, validateSessionOptions, type NpuAdapterOptions } from './npu-backend-options.js';
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

  /** The platform facts planning uses (detected once, or the injected ones). */
  platformFacts(): Promise<PlatformFacts> {
    const given = this.options.facts;
    this.facts ??= given === undefined ? detectPlatformFacts() : typeof given === 'function' ? given() : Promise.resolve(given);
    return this.facts;
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
        inner = await factory({ provider, source, options: sessionOptions, requireFullOffload });
      } catch (error) {
        // A missing or unreadable file fails the same way on every provider: stop at once.
        if (WeftError.isInstance(error) && error.code === 'model-load') throw error;
        const reason = (error as Error).message ?? String(error);
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

