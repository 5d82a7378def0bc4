import { AdapterResolutionError } from '../errors/adapter-resolution-error.js';
import type { BackendAdapter } from '../spec/backend.js';
import type { AdapterRegistry, RegisteredEntry, Rejection } from '../spec/registry.js';
import { describeCause, quoteValue, truncateText } from '../util/describe-cause.js';
import { PROBE_TIMEOUT_MS } from './load-timeouts.js';
import { withDeadline } from '../util/with-deadline.js';

/** The backend chosen for a model, the ones passed over (with reasons), and the usable rest. */
export interface BackendSelection {
  readonly adapter: BackendAdapter;
  readonly rejected: readonly Rejection[];
  /** Other available backends in priority order (failover candidates; probed only when asked). */
  readonly others: readonly BackendAdapter[];
}

/** How backends are probed while selecting one. */
export interface BackendProbeOptions {
  /** Longest a backend's `probe()` may take before it counts as unavailable (default 10 s). */
  readonly probeTimeoutMs?: number;
  /** Aborts the selection (rejecting with the signal's reason). */
  readonly signal?: AbortSignal;
}

/**
 * Picks a backend: by name, or for `auto` the highest-priority registered backend whose probe
 * says it is available here. Backends after the choice are probed only when `probeOthers` is
 * set (failover needs them); otherwise they are listed as not probed. A backend whose `create()`
 * or `probe()` throws, returns something malformed or does not answer in time is passed over with
 * the reason. Fails with an `AdapterResolutionError` listing every candidate and why it was
 * rejected.
 */
export async function selectBackend(
  registry: AdapterRegistry,
  wanted: string,
  probeOthers = false,
  options: BackendProbeOptions = {},
): Promise<BackendSelection> {
  const search = new BackendSearch(registry, wanted, options);
  const adapter = await search.next();
  if (!adapter) throw search.failure();
  const others = probeOthers ? await search.rest() : search.skipRest();
  return { adapter, rejected: search.rejected, others };
}

type Visit = { readonly index: number; readonly entry: RegisteredEntry<BackendAdapter>; readonly candidate: boolean };

/**
 * Walks a registry's backends in priority order, creating and probing each only when asked, so a
 * caller can move on to the next backend when the chosen one fails later (e.g. in
 * `createSession`). Every entry passed over is recorded in {@link rejected} with its reason.
 */
export class BackendSearch {
  private readonly entries: readonly RegisteredEntry<BackendAdapter>[];
  private readonly rejections: { readonly index: number; readonly rejection: Rejection }[] = [];
  /** Entries `next()` stepped over because their name differs; `rest()` may still probe them. */
  private readonly deferred: Visit[] = [];
  private position = 0;
  private current: Visit | undefined;
  private readonly probeTimeoutMs: number;
  /** The execution providers each available adapter's probe listed (only lists of strings are kept). */
  private readonly offers = new WeakMap<BackendAdapter, readonly string[]>();

  constructor(
    registry: AdapterRegistry,
    private readonly wanted: string,
    private readonly options: BackendProbeOptions = {},
  ) {
    this.entries = registry.list('backend');
    this.probeTimeoutMs = options.probeTimeoutMs ?? PROBE_TIMEOUT_MS;
  }

  /** Entries passed over so far, in priority order. */
  get rejected(): readonly Rejection[] {
    return [...this.rejections].sort((a, b) => a.index - b.index).map((r) => r.rejection);
  }

  /** The next backend matching the wanted name (any for `auto`) that probes as available, or undefined. */
  async next(): Promise<BackendAdapter | undefined> {
    this.current = undefined;
    while (this.position < this.entries.length) {
      const visit = this.visit(this.position++);
      if (!visit.candidate) {
        this.deferred.push(visit);
        continue;
      }
      const opened = await this.open(visit.entry);
      if (typeof opened !== 'string') {
        this.current = visit;
        return opened;
      }
      this.reject(visit, opened);
    }
    return undefined;
  }

  /**
   * The execution providers `adapter`'s probe said it offers here (`BackendProbe.executionProviders`),
   * or undefined when its probe listed none (or it was not probed by this search).
   */
  offered(adapter: BackendAdapter): readonly string[] | undefined {
    return this.offers.get(adapter);
  }

  /** Registry name of the backend `next()` returned last. */
  get currentName(): string | undefined {
    return this.current?.entry.name;
  }

  /** Records why the backend `next()` returned last could not be used after all (e.g. its session failed). */
  rejectCurrent(reason: string): void {
    if (this.current) this.reject(this.current, reason);
    this.current = undefined;
  }

  /**
   * Probes every backend not yet tried, whatever its name, and returns the available ones in
   * priority order (failover candidates); each is also listed as passed over.
   */
  async rest(): Promise<BackendAdapter[]> {
    const visits = [...this.deferred.splice(0), ...this.remaining()];
    const available: BackendAdapter[] = [];
    for (const visit of visits) {
      const opened = await this.open(visit.entry);
      if (typeof opened === 'string') {
        this.reject(visit, opened);
      } else {
        available.push(opened);
        this.reject(visit, visit.candidate ? 'lower priority' : 'different name');
      }
    }
    return available;
  }

  /** Lists every backend not yet tried as passed over without probing it; returns no adapters. */
  skipRest(): BackendAdapter[] {
    for (const visit of this.deferred.splice(0)) this.reject(visit, 'different name');
    for (const visit of this.remaining()) this.reject(visit, visit.candidate ? 'lower priority (not probed)' : 'different name');
    return [];
  }

  /** The error for "nothing usable": every backend with the reason it was passed over. */
  failure(): AdapterResolutionError {
    this.skipRest();
    return new AdapterResolutionError('backend', this.wanted === 'auto' ? 'auto' : `"${this.wanted}"`, this.rejected);
  }

  private reject(visit: Visit, reason: string): void {
    this.rejections.push({ index: visit.index, rejection: Object.freeze({ name: visit.entry.name, reason }) });
  }

  private visit(index: number): Visit {
    const entry = this.entries[index]!;
    return { index, entry, candidate: this.wanted === 'auto' || entry.name === this.wanted };
  }

  private remaining(): Visit[] {
    const visits: Visit[] = [];
    while (this.position < this.entries.length) visits.push(this.visit(this.position++));
    return visits;
  }

  /** The entry's adapter when it creates and probes as available, else the reason it is unusable. */
  private async open(entry: RegisteredEntry<BackendAdapter>): Promise<BackendAdapter | string> {
    let created: unknown;
    try {
      created = entry.create();
    } catch (cause) {
      return `create() threw: ${describeCause(cause)}`;
    }
    const problem = adapterProblem(created);
    if (problem !== undefined) return `create() returned ${problem}`;
    const adapter = created as BackendAdapter;
    const ms = this.probeTimeoutMs;
    let probe: unknown;
    try {
      probe = await withDeadline(() => adapter.probe(), {
        ms,
        onTimeout: () => new Error(`did not answer within ${ms} ms`),
        signal: this.options.signal,
      });
    } catch (cause) {
      if (this.options.signal?.aborted) throw this.options.signal.reason;
      return `probe() failed: ${describeCause(cause)}`;
    }
    const unusable = readProbe(probe);
    if (unusable !== undefined) return unusable;
    const providers = probedProviders(probe);
    if (providers !== undefined) this.offers.set(adapter, providers);
    return adapter;
  }
}

/** Why `value` is not a backend adapter, or undefined when it looks like one. */
function adapterProblem(value: unknown): string | undefined {
  if (typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function') {
    (value as PromiseLike<unknown>).then(undefined, () => {});
    return 'a promise; create() must return the adapter itself';
  }
  if (typeof value !== 'object' || value === null) return `${quoteValue(value)}, not a backend adapter`;
  try {
    const a = value as Record<string, unknown>;
    const missing = ['probe', 'createSession'].filter((m) => typeof a[m] !== 'function');
    return missing.length > 0 ? `an object without ${missing.map((m) => `${m}()`).join(' and ')}, not a backend adapter` : undefined;
  } catch (cause) {
    return `an adapter that could not be read (${describeCause(cause)})`;
  }
}

/** A probe's `executionProviders` when it is a list of strings (copied), else undefined. */
function probedProviders(probe: unknown): readonly string[] | undefined {
  try {
    const list = (probe as { executionProviders?: unknown }).executionProviders;
    if (!Array.isArray(list) || !list.every((p) => typeof p === 'string')) return undefined;
    return Object.freeze([...(list as string[])]);
  } catch {
    return undefined;
  }
}

/** Undefined when a probe result says "available", else the reason the backend is unusable. */
function readProbe(probe: unknown): string | undefined {
  let available: unknown;
  let reason: unknown;
  try {
    available = (probe as { available?: unknown } | null | undefined)?.available;
    reason = (probe as { reason?: unknown } | null | undefined)?.reason;
  } catch (cause) {
    return `probe() returned a result that could not be read (${describeCause(cause)})`;
  }
  if (typeof available !== 'boolean') return `probe() returned ${quoteValue(probe)}, not { available: boolean }`;
  if (available) return undefined;
  return `unavailable: ${typeof reason === 'string' && reason !== '' ? truncateText(reason, 300) : 'no reason given'}`;
}
