import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import type { RegisteredEntry } from '../spec/registry.js';
import { describeCause, quoteValue, truncateText } from '../util/describe-cause.js';

/** Longest entry name the registry accepts. */
export const MAX_ENTRY_NAME_LENGTH = 214;

/**
 * Reads an adapter entry once and returns a frozen copy owned by the registry: `name`, `priority`,
 * `capabilities` (copied), `description`, `owner`, and `create` bound to the original object, so
 * class instances whose `create` is a prototype method work and later changes to the object the
 * plugin passed have no effect. Throws `InvalidOptionsError` naming the field that is wrong.
 */
export function snapshotEntry(kind: string, entry: unknown, owner: string): RegisteredEntry {
  if ((typeof entry !== 'object' && typeof entry !== 'function') || entry === null) {
    throw new InvalidOptionsError(`A ${kind} entry must be an object with "name" and create() (got ${quoteValue(entry)}).`, { option: 'entry' });
  }
  let fields: { name: unknown; priority: unknown; capabilities: unknown; description: unknown; create: unknown };
  try {
    const e = entry as Record<string, unknown>;
    fields = { name: e['name'], priority: e['priority'], capabilities: e['capabilities'], description: e['description'], create: e['create'] };
  } catch (cause) {
    throw new InvalidOptionsError(`A ${kind} entry could not be read: ${describeCause(cause)}`, { option: 'entry', cause });
  }
  const { name, priority, description, create } = fields;
  if (typeof name !== 'string' || name.trim() === '' || name.length > MAX_ENTRY_NAME_LENGTH) {
    throw new InvalidOptionsError(
      `A ${kind} entry needs a non-empty string "name" of at most ${MAX_ENTRY_NAME_LENGTH} characters (got ${quoteValue(name)}).`,
      { option: 'name' },
    );
  }
  const label = `The ${kind} entry "${entryLabel(name)}"`;
  if (typeof create !== 'function') {
    throw new InvalidOptionsError(`${label} needs a create() function (got ${quoteValue(create)}).`, { option: 'create' });
  }
  if (priority !== undefined && (typeof priority !== 'number' || !Number.isFinite(priority))) {
    throw new InvalidOptionsError(`${label} has priority ${quoteValue(priority)}; use a finite number.`, { option: 'priority' });
  }
  if (description !== undefined && typeof description !== 'string') {
    throw new InvalidOptionsError(`${label} has a description that is not a string (got ${quoteValue(description)}).`, { option: 'description' });
  }
  const capabilities = readCapabilities(label, fields.capabilities);
  // A wrapper rather than bind(), which would read properties of a possibly hostile function.
  // `create(options)`, or `create(options, context)` for a request's components (see CreateContext).
  const bound = (options?: unknown, context?: unknown): unknown =>
    Reflect.apply(create as (options?: unknown, context?: unknown) => unknown, entry, context === undefined ? [options] : [options, context]);
  return Object.freeze({
    name,
    ...(priority === undefined ? {} : { priority }),
    ...(capabilities === undefined ? {} : { capabilities }),
    ...(description === undefined ? {} : { description }),
    owner,
    create: bound,
  }) as RegisteredEntry;
}

function readCapabilities(label: string, value: unknown): readonly string[] | undefined {
  if (value === undefined) return undefined;
  let copy: unknown[] | undefined;
  try {
    if (Array.isArray(value)) copy = Array.from(value as unknown[]);
  } catch (cause) {
    throw new InvalidOptionsError(`${label} has capabilities that could not be read: ${describeCause(cause)}`, { option: 'capabilities', cause });
  }
  if (copy === undefined) {
    throw new InvalidOptionsError(`${label} has capabilities ${quoteValue(value)}; use an array of strings such as ['cpu'].`, { option: 'capabilities' });
  }
  const bad = copy.findIndex((c) => typeof c !== 'string');
  if (bad !== -1) {
    throw new InvalidOptionsError(`${label} has capability ${quoteValue(copy[bad])}; every capability must be a string.`, { option: 'capabilities' });
  }
  return Object.freeze(copy as string[]);
}

/** An entry name as error messages quote it. */
export function entryLabel(name: string): string {
  return truncateText(name, 80);
}
