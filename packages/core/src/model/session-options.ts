import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import type { GraphOptimizationLevel, LogLevel, SessionOptions } from '../spec/backend.js';
import { quoteValue } from '../util/describe-cause.js';
import { checkKnownKeys } from '../util/known-keys.js';

const LEVELS: readonly GraphOptimizationLevel[] = ['disabled', 'basic', 'extended', 'all'];
/** In onnxruntime's severity order: index = `logSeverityLevel`. */
const LOG_LEVELS: readonly LogLevel[] = ['verbose', 'info', 'warning', 'error', 'fatal'];
/** The level a session logs at when its options name none. */
const DEFAULT_LOG_LEVEL: LogLevel = 'error';
const KEYS: readonly string[] = ['intraOpNumThreads', 'interOpNumThreads', 'graphOptimizationLevel', 'executionProviders', 'logLevel'];
/** More threads than any machine here has; larger values made onnxruntime-node fail with bad_alloc. */
const MAX_THREADS = 1024;

/**
 * Checks the backend-independent shape of session options (a load's `session`, a backend's
 * `defaults`): an object with only the known keys, thread counts from 0 (the runtime's default) to
 * 1024, a known optimisation level, and a non-empty list of provider names. Which provider names
 * exist is each backend's to check. Throws `InvalidOptionsError` naming `prefix` + the key.
 */
export function checkSessionOptions(value: unknown, prefix = 'session'): SessionOptions {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidOptionsError(`${prefix} must be an object such as { intraOpNumThreads: 1 } (got ${quoteValue(value)}).`, { option: prefix });
  }
  const options = value as Record<string, unknown>;
  checkKnownKeys(options, KEYS, prefix);
  for (const key of ['intraOpNumThreads', 'interOpNumThreads'] as const) {
    const v = options[key];
    if (v !== undefined && !(typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_THREADS)) {
      throw new InvalidOptionsError(`${prefix}.${key} must be a whole number from 0 (the runtime's default) to ${MAX_THREADS} (got ${quoteValue(v)}).`, {
        option: `${prefix}.${key}`,
      });
    }
  }
  const level = options['graphOptimizationLevel'];
  if (level !== undefined && !LEVELS.includes(level as GraphOptimizationLevel)) {
    throw new InvalidOptionsError(`${prefix}.graphOptimizationLevel must be one of ${LEVELS.join(', ')} (got ${quoteValue(level)}).`, {
      option: `${prefix}.graphOptimizationLevel`,
    });
  }
  const logLevel = options['logLevel'];
  if (logLevel !== undefined && !LOG_LEVELS.includes(logLevel as LogLevel)) {
    throw new InvalidOptionsError(`${prefix}.logLevel must be one of ${LOG_LEVELS.join(', ')} (got ${quoteValue(logLevel)}).`, {
      option: `${prefix}.logLevel`,
    });
  }
  const providers = options['executionProviders'];
  if (providers !== undefined) checkProviderNames(providers, `${prefix}.executionProviders`);
  return options as SessionOptions;
}

/**
 * A non-empty list of non-empty provider names, every index checked: `every` skips holes, so
 * `[, 'cpu']` passed and reached onnxruntime as undefined, reported as a broken model file.
 */
function checkProviderNames(providers: unknown, option: string): void {
  if (!(Array.isArray(providers) && providers.length > 0)) {
    throw new InvalidOptionsError(`${option} must be a non-empty list of provider names such as ['cpu'] (got ${quoteValue(providers)}).`, { option });
  }
  for (let i = 0; i < providers.length; i++) {
    const name: unknown = providers[i];
    // A hole, or undefined (what a copy of the list makes of a hole).
    if (name === undefined) throw providerHole(option, i);
    if (!(typeof name === 'string' && name !== '')) {
      throw new InvalidOptionsError(`${option} must be a non-empty list of provider names such as ['cpu'] (item ${i} is ${quoteValue(name)}).`, { option: `${option}[${i}]` });
    }
  }
}

/** The error for a hole (or undefined) at `index` of a provider list (`[, 'cpu']`). */
function providerHole(option: string, index: number): InvalidOptionsError {
  return new InvalidOptionsError(`${option}[${index}] is missing: the list has a hole or undefined there (as in [, 'cpu']); remove the extra comma.`, { option: `${option}[${index}]` });
}

/**
 * onnxruntime's `logSeverityLevel` (0 verbose … 4 fatal) for a checked `logLevel`; `error` when
 * none is given, so graph-loading warnings stay off stderr unless asked for.
 */
export function logSeverityLevel(level: LogLevel | undefined): 0 | 1 | 2 | 3 | 4 {
  return LOG_LEVELS.indexOf(level ?? DEFAULT_LOG_LEVEL) as 0 | 1 | 2 | 3 | 4;
}
