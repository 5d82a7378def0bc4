import { UsageError } from '../errors.js';

const INTEGER = /^\d+$/;
const DECIMAL = /^(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/**
 * Parses a flag's value as a non-negative integer in [min, max]; anything else is a usage error,
 * which states the bounds and, given `why`, the reason for them (`--tokens must be an integer >= 2:
 * ms/token is timed between consecutive tokens (got "1")`).
 */
export function parseInteger(flag: string, text: string, min = 0, max = Number.MAX_SAFE_INTEGER, why?: string): number {
  const value = INTEGER.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    // Digits past the largest integer a number holds exactly: the bound is what is wrong.
    if (INTEGER.test(text) && !(value <= max)) throw new UsageError(`--${flag} must be at most ${max} (got ${JSON.stringify(text)})`);
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new UsageError(`--${flag} must be an integer ${range}${why === undefined ? '' : `: ${why}`} (got ${JSON.stringify(text)})`);
  }
  return value;
}

/** Range rule for {@link parseDecimal}: a predicate and how to say it. */
export interface DecimalRule {
  readonly ok: (value: number) => boolean;
  readonly rule: string;
}

/** Parses a flag's value as a finite, non-negative decimal number that satisfies `rule`. */
export function parseDecimal(flag: string, text: string, rule: DecimalRule): number {
  const value = DECIMAL.test(text) ? Number(text) : Number.NaN;
  if (!Number.isFinite(value) || !rule.ok(value)) {
    throw new UsageError(`--${flag} must be ${rule.rule} (got ${JSON.stringify(text)})`);
  }
  return value;
}

/** Parses an optional flag with `parse`; undefined when the flag is absent. */
export function optional<T>(text: string | undefined, parse: (text: string) => T): T | undefined {
  return text === undefined ? undefined : parse(text);
}
