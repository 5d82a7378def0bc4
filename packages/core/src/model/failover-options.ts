import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import type { FailoverOptions } from '../spec/runtime.js';
import { quoteValue } from '../util/describe-cause.js';
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
