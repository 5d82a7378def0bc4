import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import type { RegisteredEntry } from '../spec/registry.js';
import { describeCause, quoteValue } from '../util/describe-cause.js';

/** A resolve query read once into plain, checked fields. */
export interface QuerySnapshot {
  readonly name: string | undefined;
  readonly require: readonly string[];
  readonly accept: ((entry: RegisteredEntry) => unknown) | undefined;
}

const EMPTY: QuerySnapshot = Object.freeze({ name: undefined, require: Object.freeze([]), accept: undefined });

/** Reads a `resolve()` query once; throws `InvalidOptionsError` when it is malformed. */
export function readQuery(query: unknown): QuerySnapshot {
  if (query === undefined) return EMPTY;
  if (typeof query !== 'object' || query === null) {
    throw new InvalidOptionsError(`A resolve query must be an object such as { name: 'fp32' } (got ${quoteValue(query)}).`, { option: 'query' });
  }
  let name: unknown;
  let require: unknown;
  let accept: unknown;
  let required: unknown[] | undefined;
  try {
    const q = query as Record<string, unknown>;
    name = q['name'];
    require = q['require'];
    accept = q['accept'];
    if (Array.isArray(require)) required = Array.from(require as unknown[]);
  } catch (cause) {
    throw new InvalidOptionsError(`A resolve query could not be read: ${describeCause(cause)}`, { option: 'query', cause });
  }
  if (name !== undefined && typeof name !== 'string') {
    throw new InvalidOptionsError(`A resolve query's "name" must be a string (got ${quoteValue(name)}).`, { option: 'name' });
  }
  if (require !== undefined && (required === undefined || required.some((c) => typeof c !== 'string'))) {
    throw new InvalidOptionsError(
      `A resolve query's "require" must be an array of capability strings such as ['cpu'] (got ${quoteValue(require)}).`,
      { option: 'require' },
    );
  }
  if (accept !== undefined && typeof accept !== 'function') {
    throw new InvalidOptionsError(`A resolve query's "accept" must be a function (got ${quoteValue(accept)}).`, { option: 'accept' });
  }
  return {
    name,
    require: (required ?? []) as string[],
    accept: accept === undefined ? undefined : (entry: RegisteredEntry) => Reflect.apply(accept as (entry: RegisteredEntry) => unknown, query, [entry]),
  };
}
