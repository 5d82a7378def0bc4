import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { isArray, readGuarded, readItem, readLength } from '../generation/read-request.js';
import type { LoadOptions } from '../spec/runtime.js';
import { describeCause } from '../util/describe-cause.js';

/**
 * Which fields of an options object {@link snapshotOptions} reads: `value` (kept as it is), `list`
 * (an array, copied item by item) or the shape of a nested options object (copied the same way).
 */
export interface OptionsShape {
  readonly [key: string]: OptionsShape | 'value' | 'list';
}

/** The fields of `LoadOptions`, nested ones included (a record, so the compiler checks none is missing). */
const LOAD_OPTIONS_SHAPE: Record<keyof LoadOptions, OptionsShape | 'value' | 'list'> = {
  backend: 'value',
  session: { intraOpNumThreads: 'value', interOpNumThreads: 'value', graphOptimizationLevel: 'value', executionProviders: 'list', logLevel: 'value' },
  onnxFile: 'value',
  failover: { backends: 'list', runTimeoutMs: 'value', breaker: { failureThreshold: 'value', cooldownMs: 'value' } },
  tokenizer: 'value',
  probeTimeoutMs: 'value',
  sessionTimeoutMs: 'value',
  fetchTimeoutMs: 'value',
  disposeTimeoutMs: 'value',
  signal: 'value',
};

/** Most items a list in options may hold (a proxy claiming 2^32 - 1 would otherwise be copied item by item). */
export const MAX_OPTION_LIST = 10_000;

/**
 * `weft.load`'s options read once, at the API boundary, into plain objects the load uses from
 * then on (see {@link snapshotOptions}): a getter or proxy trap that throws is an
 * `InvalidOptionsError` naming the option, and none can change a value between its check and its use.
 */
export function snapshotLoadOptions(options: object): LoadOptions {
  return snapshotOptions(options, LOAD_OPTIONS_SHAPE, 'load options', '') as LoadOptions;
}

/**
 * Copies an options object: its own keys (read once, so unknown ones can still be reported), then
 * each field `shape` names and each own key, every one read once (`options[key]`, inherited ones
 * included; undefined ones left out), nested options objects and lists in `shape` copied too.
 * Values of other types are kept for the caller's checks to report. Throws `InvalidOptionsError`
 * naming the option for a read that throws (a getter, a proxy trap) and for a list longer than
 * {@link MAX_OPTION_LIST}; `where` names the object in messages, `prefix` the options within it.
 */
export function snapshotOptions(options: object, shape: OptionsShape, where: string, prefix: string): Record<string, unknown> {
  let own: string[];
  try {
    own = Object.keys(options);
  } catch (cause) {
    throw new InvalidOptionsError(`The keys of ${where} could not be read: ${describeCause(cause)}`, { option: prefix === '' ? 'options' : prefix, cause });
  }
  const copy: Record<string, unknown> = {};
  for (const key of new Set([...own, ...Object.keys(shape)])) {
    const option = prefix === '' ? key : `${prefix}.${key}`;
    const value = readGuarded(option, option, () => (options as Record<string, unknown>)[key]);
    if (value === undefined) continue;
    const kind = Object.hasOwn(shape, key) ? shape[key]! : 'value';
    copy[key] = kind === 'value' ? value : kind === 'list' ? copyList(value, option) : copyNested(value, kind, option);
  }
  return copy;
}

function copyNested(value: unknown, shape: OptionsShape, option: string): unknown {
  if (typeof value !== 'object' || value === null || isArray(value, option)) return value;
  return snapshotOptions(value, shape, option, option);
}

function copyList(value: unknown, option: string): unknown {
  if (!isArray(value, option)) return value;
  const list = value as readonly unknown[];
  const length = readLength(list, option);
  if (length > MAX_OPTION_LIST) throw new InvalidOptionsError(`${option} holds ${length} items; at most ${MAX_OPTION_LIST} are allowed.`, { option });
  const items: unknown[] = [];
  for (let i = 0; i < length; i++) items.push(readItem(list, i, option));
  return items;
}
