import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { quoteValue } from '../util/describe-cause.js';

/** Longest a plugin's `setup` may take before it is reported as hung (default). */
export const SETUP_TIMEOUT_MS = 30_000;

/** Largest delay a timer can hold (2^31 - 1 ms, about 24.8 days); longer ones fire at once. */
export const MAX_SETUP_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * The setup timeout to use: {@link SETUP_TIMEOUT_MS} when `value` is undefined, otherwise `value`
 * if it is an integer from 1 to {@link MAX_SETUP_TIMEOUT_MS}. Throws `InvalidOptionsError` for
 * anything else (NaN, Infinity, 0, negative, fractional or too large values).
 */
export function checkSetupTimeout(value: unknown): number {
  if (value === undefined) return SETUP_TIMEOUT_MS;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_SETUP_TIMEOUT_MS) {
    throw new InvalidOptionsError(
      `setupTimeoutMs must be a whole number of milliseconds from 1 to ${MAX_SETUP_TIMEOUT_MS} (got ${quoteValue(value)}).`,
      { option: 'setupTimeoutMs' },
    );
  }
  return value;
}
