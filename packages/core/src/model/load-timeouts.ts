import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { quoteValue } from '../util/describe-cause.js';

/** Default longest wait for a backend's `probe()` while loading (10 s). */
export const PROBE_TIMEOUT_MS = 10_000;

/** Default longest wait for a backend's `createSession()` while loading (5 min: large graphs take a while). */
export const SESSION_TIMEOUT_MS = 300_000;

/** Default longest silence of an `http(s)://` model folder's server (30 s; see {@link LoadTimeouts.fetchTimeoutMs}). */
export const FETCH_TIMEOUT_MS = 30_000;

/**
 * Default longest wait of a model's `dispose()` for its backend (10 s): for runs in flight, the
 * sessions' `release()`, and sessions still opening (see {@link LoadTimeouts.disposeTimeoutMs}).
 */
export const DISPOSE_TIMEOUT_MS = 10_000;

/** Largest delay a timer can hold (2^31 - 1 ms, about 24.8 days). */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** The load timeouts to use: each option's value, or its default when undefined. */
export interface LoadTimeouts {
  readonly probeTimeoutMs: number;
  readonly sessionTimeoutMs: number;
  /** Longest silence of a URL folder's server: before it answers a request, and between two chunks of a body. */
  readonly fetchTimeoutMs: number;
  /**
   * Longest a `dispose()` waits for the backend: the model's runs in flight and its sessions'
   * `release()`, a session still opening (a fallback's, or an aborted load's); past it, the
   * dispose resolves and what is still pending is released when it settles.
   */
  readonly disposeTimeoutMs: number;
}

/**
 * Reads `probeTimeoutMs`, `sessionTimeoutMs`, `fetchTimeoutMs` and `disposeTimeoutMs` of load options. Throws
 * `InvalidOptionsError` unless each is undefined or a whole number of milliseconds from 1 to 2^31 - 1.
 */
export function readLoadTimeouts(options: {
  readonly probeTimeoutMs?: unknown;
  readonly sessionTimeoutMs?: unknown;
  readonly fetchTimeoutMs?: unknown;
  readonly disposeTimeoutMs?: unknown;
}): LoadTimeouts {
  return {
    probeTimeoutMs: checkTimeout('probeTimeoutMs', options.probeTimeoutMs, PROBE_TIMEOUT_MS),
    sessionTimeoutMs: checkTimeout('sessionTimeoutMs', options.sessionTimeoutMs, SESSION_TIMEOUT_MS),
    fetchTimeoutMs: checkTimeout('fetchTimeoutMs', options.fetchTimeoutMs, FETCH_TIMEOUT_MS),
    disposeTimeoutMs: checkTimeout('disposeTimeoutMs', options.disposeTimeoutMs, DISPOSE_TIMEOUT_MS),
  };
}

/** `value` when it is a whole number of milliseconds from 1 to 2^31 - 1, `fallback` when undefined. */
export function checkTimeout(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_TIMEOUT_MS) {
    throw new InvalidOptionsError(`${option} must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT_MS} (got ${quoteValue(value)}).`, { option });
  }
  return value;
}
