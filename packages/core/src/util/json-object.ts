import { ModelLoadError } from '../errors/model-load-error.js';
import { quoteValue } from './describe-cause.js';

/** `value` when it is a JSON object (not null, not an array); else a `ModelLoadError` naming the file at `path`. */
export function requireJsonObject(value: unknown, path: string): Record<string, unknown> {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  throw new ModelLoadError(`${path} must hold a JSON object (got ${quoteValue(value)}).`, { path });
}
