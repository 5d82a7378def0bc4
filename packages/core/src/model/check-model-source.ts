import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import type { ModelSource } from '../spec/backend.js';
import { describeCause, quoteValue } from '../util/describe-cause.js';

/**
 * For backends' `createSession`: refuses what is not a {@link ModelSource} (`{ kind: 'path', path }`
 * with a non-empty path, or `{ kind: 'bytes', bytes }`) with an `InvalidOptionsError` (option
 * `source` or `source.path`), rather than the TypeError reading it would throw. The bytes
 * themselves are the backend's to check when it reads the graph.
 */
export function checkModelSource(source: unknown): asserts source is ModelSource {
  let kind: unknown;
  let path: unknown;
  try {
    kind = (source as { kind?: unknown } | null)?.kind;
    if (kind === 'path') path = (source as { path?: unknown }).path;
  } catch (cause) {
    throw new InvalidOptionsError(`The model source could not be read: ${describeCause(cause)}`, { option: 'source', cause });
  }
  if (typeof source !== 'object' || source === null || (kind !== 'path' && kind !== 'bytes')) {
    const got = source === null || typeof source !== 'object' ? quoteValue(source) : `kind ${quoteValue(kind)}`;
    throw new InvalidOptionsError(`The model source must be { kind: 'path', path } or { kind: 'bytes', bytes }; got ${got}.`, { option: 'source' });
  }
  if (kind === 'path' && (typeof path !== 'string' || path.length === 0)) {
    throw new InvalidOptionsError(`The model source's path must be a non-empty string; got ${quoteValue(path)}.`, { option: 'source.path' });
  }
}
