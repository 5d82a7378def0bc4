import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import type { AdapterKind } from '../spec/registry.js';
import { quoteValue } from '../util/describe-cause.js';

/**
 * Every kind of core's `AdapterKinds` (the type-level list), so the registry can reject a typo
 * such as `logit-processor` at run time. Typed so that a kind added to `AdapterKinds` in core
 * without being listed here fails to compile.
 */
const CORE_KINDS: Record<Exclude<AdapterKind, 'tokenizer'>, true> & { readonly tokenizer: true } = {
  backend: true,
  'kv-cache': true,
  'attention-router': true,
  'logits-processor': true,
  sampler: true,
  analyzer: true,
  'strategy-selector': true,
  'model-transform': true,
  'vision-encoder': true,
  'vision-fusion': true,
  grounder: true,
  tokenizer: true,
};

/** The adapter kinds core defines; others must be declared with `declareKind` before use. */
export const BUILT_IN_KINDS: readonly string[] = Object.freeze(Object.keys(CORE_KINDS));

const MAX_KIND_LENGTH = 100;
const KIND_PATTERN = /^[A-Za-z0-9@][A-Za-z0-9@._/:-]*$/;

/** Throws `InvalidOptionsError` unless `kind` is a usable kind name (for `declareKind`). */
export function checkKindName(kind: unknown): asserts kind is string {
  if (typeof kind !== 'string' || kind.length === 0 || kind.length > MAX_KIND_LENGTH || !KIND_PATTERN.test(kind)) {
    throw new InvalidOptionsError(
      `An adapter kind must be a name such as "my-kind" of at most ${MAX_KIND_LENGTH} characters (got ${quoteValue(kind)}).`,
      { option: 'kind' },
    );
  }
}

/**
 * Throws `InvalidOptionsError` unless `kind` is one of `known`, suggesting the closest known kind
 * and how to declare a kind added by declaration merging.
 */
export function checkKnownKind(kind: unknown, known: ReadonlySet<string>): asserts kind is string {
  if (typeof kind === 'string' && known.has(kind)) return;
  if (typeof kind !== 'string') {
    throw new InvalidOptionsError(`An adapter kind must be a string such as "kv-cache" (got ${quoteValue(kind)}).`, { option: 'kind' });
  }
  const closest = closestKind(kind, known);
  const hint = closest === undefined ? '' : ` Did you mean "${closest}"?`;
  throw new InvalidOptionsError(
    `Unknown adapter kind ${quoteValue(kind)}.${hint} A kind added to AdapterKinds by declaration merging must first be declared with declareKind(${quoteValue(kind)}).`,
    { option: 'kind' },
  );
}

function closestKind(kind: string, known: ReadonlySet<string>): string | undefined {
  if (kind.length > MAX_KIND_LENGTH) return undefined;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(kind.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}

/** Levenshtein distance (insertions, deletions, substitutions). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
