import { PluginError } from '../errors/plugin-error.js';
import type { OwnedHooks } from '../runtime/tokens.js';
import type { BackendTensor, InferenceSession } from '../spec/backend.js';
import { quoteValue } from '../util/describe-cause.js';
import { runStage, stageFailure } from './stage-runner.js';

/** What a step's `beforeForward` hooks see besides the feeds (and the session feeds are checked against). */
export interface BeforeForwardStep {
  readonly step: number;
  readonly batchSize: number;
  readonly pastLength: number;
  readonly session: Pick<InferenceSession, 'createTensor' | 'inputNames' | 'inputMetadata'>;
}

/**
 * Runs the `beforeForward` hooks of a step in order, checking after each the feeds it changed (a
 * graph input's tensor it removed, or replaced or added with another object): each must still be
 * a tensor, of the element type the graph declares, with the rank and fixed dims it declares,
 * data of as many values as its dims hold, and symbolic dims (`batch_size`) that agree with the
 * other feeds'. A hook that gets one wrong fails the stream with a `PluginError` naming it, rather
 * than the forward pass failing as if the backend were at fault (which would also count against
 * its circuit breaker and fail over). Feeds no hook touched (core's own) are not checked again.
 */
export function runBeforeForwardHooks(hooks: readonly OwnedHooks[], step: BeforeForwardStep, feeds: Record<string, BackendTensor>): void {
  if (hooks.length === 0) return;
  const { session } = step;
  const names = session.inputNames;
  // The tensor each input had before the hook that runs next: only what a hook changed is checked.
  const before: unknown[] = new Array<unknown>(names.length);
  for (let i = 0; i < names.length; i++) before[i] = feeds[names[i]!];
  for (let h = 0; h < hooks.length; h++) {
    const { owner, hooks: set } = hooks[h]!;
    runStage(owner, 'beforeForward', () => set.beforeForward!({ step: step.step, batchSize: step.batchSize, pastLength: step.pastLength, feeds, session }));
    for (let i = 0; i < names.length; i++) {
      const value = feeds[names[i]!] as unknown;
      if (value === before[i]) continue;
      try {
        checkFeed(owner, session, i, value, feeds);
      } catch (cause) {
        throw stageFailure(owner, 'beforeForward', cause); // a tensor whose reads throw (a proxy)
      }
      before[i] = value;
    }
  }
  // An input only a plugin feeds (its hooks' `feeds`) that no hook set: blamed on the plugin that declared it.
  for (let i = 0; i < names.length; i++) {
    if (before[i] !== undefined) continue;
    const name = names[i]!;
    const declaring = hooks.find((h) => h.hooks.feeds?.includes(name));
    if (declaring) throw new PluginError(declaring.owner, 'beforeForward', `declares that it feeds "${name}" (hooks.feeds) but left it unset; set feeds["${name}"] to a tensor in beforeForward every step.`);
  }
}

/** The graph's declared type and shape per input, aligned with `inputNames`; made once per session. */
interface InputSpec {
  readonly types: readonly (string | undefined)[];
  readonly shapes: readonly (readonly (number | string)[] | undefined)[];
}

const specs = new WeakMap<object, InputSpec>();

function inputSpec(session: BeforeForwardStep['session']): InputSpec {
  let spec = specs.get(session);
  if (spec === undefined) {
    const byName = new Map((session.inputMetadata ?? []).map((m) => [m.name, m]));
    const infos = session.inputNames.map((name) => byName.get(name));
    spec = { types: infos.map((m) => m?.type), shapes: infos.map((m) => (Array.isArray(m?.shape) ? m.shape : undefined)) };
    specs.set(session, spec);
  }
  return spec;
}

/** Checks the tensor a hook left for input `i`; throws a `PluginError` naming `owner` if it is wrong. */
function checkFeed(owner: string, session: BeforeForwardStep['session'], i: number, value: unknown, feeds: Readonly<Record<string, BackendTensor>>): void {
  const name = session.inputNames[i]!;
  if (!isTensor(value)) throw notATensor(owner, name, value);
  const { types, shapes } = inputSpec(session);
  const tensor = value as BackendTensor;
  const problem = feedProblem(tensor, types[i], shapes[i], (symbol, own) => agreedDim(session, shapes, feeds, i, symbol, own));
  if (problem !== undefined) {
    throw new PluginError(owner, 'beforeForward', `set the feed "${name}" to a ${describeTensor(tensor)}, but ${problem}; a hook's tensor must match the graph's input.`);
  }
}

/** What is wrong with `tensor` as a feed declared `type` and `shape`, or undefined. */
function feedProblem(
  tensor: BackendTensor,
  type: string | undefined,
  shape: readonly (number | string)[] | undefined,
  other: (symbol: string, own: number) => string | undefined,
): string | undefined {
  const { dims } = tensor;
  for (let d = 0; d < dims.length; d++) {
    const n = dims[d];
    if (!(typeof n === 'number' && Number.isSafeInteger(n) && n >= 0)) return `dim ${d} is ${quoteValue(n)}, not a whole number >= 0`;
  }
  if (type !== undefined && tensor.type !== type) return `the graph takes ${type}`;
  if (shape !== undefined) {
    if (dims.length !== shape.length) return `the graph takes ${shape.length} dims [${shape.join(', ')}]`;
    for (let d = 0; d < shape.length; d++) {
      const want = shape[d];
      if (typeof want === 'number' && want >= 0 && dims[d] !== want) return `the graph takes ${want} at dim ${d} ([${shape.join(', ')}])`;
    }
  }
  let values = 1;
  for (let d = 0; d < dims.length; d++) values *= dims[d]!;
  let length: unknown;
  try {
    length = (tensor.data as { length?: unknown } | null)?.length;
  } catch {
    length = undefined;
  }
  if (length !== values) return `its data holds ${typeof length === 'number' ? length : 'no list of'} values where its dims hold ${values}`;
  if (shape !== undefined) {
    for (let d = 0; d < shape.length; d++) {
      const symbol = shape[d];
      if (typeof symbol !== 'string') continue;
      const conflict = other(symbol, dims[d]!);
      if (conflict !== undefined) return `dim ${d} ("${symbol}") is ${dims[d]} while ${conflict}`;
    }
  }
  return undefined;
}

/**
 * Where the other feeds that use `symbol` agree on a size other than `own`: "it is N in \"name\"".
 * Undefined when they agree with `own`, when none uses it, or when they disagree among themselves
 * (an export that reuses a name loosely: nothing to hold the hook's tensor to).
 */
function agreedDim(
  session: BeforeForwardStep['session'],
  shapes: InputSpec['shapes'],
  feeds: Readonly<Record<string, BackendTensor>>,
  self: number,
  symbol: string,
  own: number,
): string | undefined {
  let agreed: number | undefined;
  let where = '';
  for (let j = 0; j < shapes.length; j++) {
    const shape = shapes[j];
    if (j === self || shape === undefined) continue;
    const other = feeds[session.inputNames[j]!] as unknown;
    if (!isTensor(other)) continue;
    const dims = (other as BackendTensor).dims;
    for (let d = 0; d < shape.length; d++) {
      if (shape[d] !== symbol || dims.length !== shape.length) continue;
      const n = dims[d];
      if (agreed === undefined) {
        agreed = n;
        where = session.inputNames[j]!;
      } else if (n !== agreed) return undefined;
    }
  }
  return agreed === undefined || agreed === own ? undefined : `it is ${agreed} in "${where}"`;
}

function describeTensor(tensor: BackendTensor): string {
  return `tensor of type ${String(tensor.type)} and dims [${tensor.dims.join(', ')}]`;
}

function notATensor(owner: string, name: string, value: unknown): PluginError {
  const what = value === undefined ? `removed the feed "${name}"` : `set the feed "${name}" to ${quoteValue(value)}, which is not a tensor`;
  return new PluginError(owner, 'beforeForward', `${what}; hooks may add feeds or replace one with another tensor, but every graph input needs a tensor.`);
}

function isTensor(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  try {
    const { dims, type } = value as { dims?: unknown; type?: unknown };
    return Array.isArray(dims) && typeof type === 'string';
  } catch {
    return false; // a value whose reads throw (a hostile proxy) is no tensor
  }
}
