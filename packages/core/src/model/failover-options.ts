import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import type { BackendAdapter, SessionOptions } from '../spec/backend.js';
import type { Rejection } from '../spec/registry.js';
import type { FailoverOptions } from '../spec/runtime.js';
import { describeCause, quoteValue } from '../util/describe-cause.js';
import { withDeadline } from '../util/with-deadline.js';
import { checkTimeout, MAX_TIMEOUT_MS } from './load-timeouts.js';
import { checkKnownKeys } from '../util/known-keys.js';

const KEYS = ['backends', 'runTimeoutMs', 'breaker'];
const BREAKER_KEYS = ['failureThreshold', 'cooldownMs'];

/**
 * Reads `LoadOptions.failover`: undefined or false (off), true (defaults), or options, each checked
 * here so that a bad value fails the load with an `InvalidOptionsError` instead of surfacing later
 * as backend failures (a `runTimeoutMs` that is not a number failed every run).
 */
export function readFailoverOptions(value: unknown): FailoverOptions | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidOptionsError(`failover must be true, false or { backends?, runTimeoutMs?, breaker? } (got ${quoteValue(value)}).`, { option: 'failover' });
  }
  const options = value as Record<string, unknown>;
  checkKnownKeys(options, KEYS, 'failover');
  const { backends, runTimeoutMs, breaker } = options;
  if (backends !== undefined && (!Array.isArray(backends) || backends.some((b) => typeof b !== 'string' || b === ''))) {
    throw new InvalidOptionsError(`failover.backends must be a list of backend names (got ${quoteValue(backends)}).`, { option: 'failover.backends' });
  }
  // A name listed twice would get a second session on that backend, with a breaker no run reports to.
  const twice = (backends as string[] | undefined)?.find((b, i, all) => all.indexOf(b) !== i);
  if (twice !== undefined) {
    throw new InvalidOptionsError(`failover.backends lists ${quoteValue(twice)} twice; name each fallback once.`, { option: 'failover.backends' });
  }
  if (runTimeoutMs !== undefined) checkTimeout('failover.runTimeoutMs', runTimeoutMs, 0);
  if (breaker !== undefined) {
    if (typeof breaker !== 'object' || breaker === null || Array.isArray(breaker)) {
      throw new InvalidOptionsError(`failover.breaker must be { failureThreshold?, cooldownMs? } (got ${quoteValue(breaker)}).`, { option: 'failover.breaker' });
    }
    const b = breaker as Record<string, unknown>;
    checkKnownKeys(b, BREAKER_KEYS, 'failover.breaker');
    const { failureThreshold, cooldownMs } = b;
    if (failureThreshold !== undefined && !(typeof failureThreshold === 'number' && Number.isInteger(failureThreshold) && failureThreshold >= 1)) {
      throw new InvalidOptionsError(`failover.breaker.failureThreshold must be a whole number >= 1 (got ${quoteValue(failureThreshold)}).`, { option: 'failover.breaker.failureThreshold' });
    }
    if (cooldownMs !== undefined && !(typeof cooldownMs === 'number' && Number.isInteger(cooldownMs) && cooldownMs >= 0 && cooldownMs <= MAX_TIMEOUT_MS)) {
      throw new InvalidOptionsError(`failover.breaker.cooldownMs must be a whole number of milliseconds from 0 to ${MAX_TIMEOUT_MS} (got ${quoteValue(cooldownMs)}).`, { option: 'failover.breaker.cooldownMs' });
    }
  }
  return options as FailoverOptions;
}

/** What {@link fallbacksTakingOptions} needs besides the fallbacks. */
export interface FallbackOptionsCheck {
  /** The load's `session` options, which every fallback's session gets. */
  readonly session: SessionOptions | undefined;
  /** The providers a fallback's probe listed (`BackendProbe.executionProviders`), when it did. */
  readonly offered: (adapter: BackendAdapter) => readonly string[] | undefined;
  /** Whether the user named the fallbacks (`failover.backends`): one that refuses is then an error. */
  readonly named: boolean;
  /** Longest an adapter's `validateSessionOptions` may take (the load's `probeTimeoutMs`). */
  readonly ms: number;
  readonly signal?: AbortSignal | undefined;
}

/**
 * The fallbacks that accept the load's session options, and why each other one was left out. A
 * fallback opens its session, with those options, only when the primary fails, so one that refuses
 * them (provider names are backend-specific: `['cpu']` is not a web provider) would fail exactly
 * then. Each fallback's own `validateSessionOptions` decides where it has one; otherwise a fallback
 * whose probe listed its providers and none of the named ones is left out. A fallback named in
 * `failover.backends` that refuses is an `InvalidOptionsError` instead.
 */
export async function fallbacksTakingOptions(
  fallbacks: readonly BackendAdapter[],
  check: FallbackOptionsCheck,
): Promise<{ readonly usable: BackendAdapter[]; readonly leftOut: Rejection[] }> {
  const { session } = check;
  if (session === undefined || fallbacks.length === 0) return { usable: [...fallbacks], leftOut: [] };
  const usable: BackendAdapter[] = [];
  const leftOut: Rejection[] = [];
  // Asked together: a slow validator delays the load once, not once per fallback.
  const refusals = await Promise.all(fallbacks.map((adapter) => refusalOf(adapter, session, check)));
  for (const [i, adapter] of fallbacks.entries()) {
    const refusal = refusals[i];
    if (refusal === undefined) {
      usable.push(adapter);
      continue;
    }
    if (check.named) {
      throw new InvalidOptionsError(
        `Failover backend "${adapter.name}" refuses this load's session options (${refusal}): leave it out of failover.backends, or give each backend its providers in its plugin's defaults (e.g. nodeBackend({ defaults: { executionProviders: ['cpu'] } })) instead of in session.`,
        { option: 'failover.backends' },
      );
    }
    leftOut.push(Object.freeze({ name: adapter.name, reason: `refuses the load's session options (${refusal})` }));
  }
  return { usable, leftOut };
}

/**
 * Why `adapter` would refuse `session` in `createSession`, or undefined when it accepts them (or
 * cannot tell). A `validateSessionOptions` that cannot be read or does not answer within the
 * probe timeout says nothing about the options: the probe's providers decide, as without one.
 */
async function refusalOf(adapter: BackendAdapter, session: SessionOptions, check: FallbackOptionsCheck): Promise<string | undefined> {
  let validate: unknown;
  try {
    validate = adapter.validateSessionOptions;
  } catch {
    validate = undefined;
  }
  if (typeof validate === 'function') {
    const timedOut = new Error('validateSessionOptions() did not answer');
    try {
      await withDeadline(() => (validate as (o: SessionOptions) => unknown).call(adapter, session), {
        ms: check.ms,
        signal: check.signal,
        onTimeout: () => timedOut,
      });
      return undefined;
    } catch (cause) {
      if (check.signal?.aborted) throw check.signal.reason;
      // Quoted inside parentheses: without its closing full stop.
      if (cause !== timedOut) return describeCause(cause).replace(/\.$/, '');
    }
  }
  const named = session.executionProviders;
  const offered = check.offered(adapter);
  if (named === undefined || offered === undefined || named.some((p) => offered.includes(p))) return undefined;
  return `executionProviders ${named.map((p) => quoteValue(p)).join(', ')}: it offers ${offered.length > 0 ? offered.join(', ') : 'none'} here`;
}
