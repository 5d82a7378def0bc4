import { PluginError } from '../errors/plugin-error.js';
import type { GenerationHooks } from '../spec/hooks.js';
import { describeCause, quoteValue } from '../util/describe-cause.js';

const STAGES = ['beforeForward', 'afterForward', 'processLogits', 'afterToken'] as const;

/** Functions that do not run their body to completion when called, by their built-in tag. */
const NOT_SYNCHRONOUS: Readonly<Record<string, string>> = {
  '[object AsyncFunction]': 'an async function',
  '[object GeneratorFunction]': 'a generator function',
  '[object AsyncGeneratorFunction]': 'an async generator function',
};

/**
 * Reads a plugin's hook set once into a frozen copy holding its stage functions, each bound to the
 * object the plugin passed (so class instances keep their `this`). Throws a `PluginError` (stage
 * `addHooks`) when it is not an object, cannot be read, or a stage is not a plain function (an
 * `async` or generator function is refused here; a plain function that returns a promise fails
 * its stream when it runs).
 */
export function snapshotHooks(plugin: string, hooks: unknown): GenerationHooks {
  if (typeof hooks !== 'object' || hooks === null) {
    throw new PluginError(plugin, 'addHooks', `hooks must be an object (got ${quoteValue(hooks)})`);
  }
  const copy: Record<string, unknown> = {};
  let feeds: unknown;
  try {
    feeds = (hooks as Record<string, unknown>)['feeds'];
  } catch (cause) {
    throw new PluginError(plugin, 'addHooks', `the hooks could not be read: ${describeCause(cause)}`, { cause });
  }
  if (feeds !== undefined) {
    if (!Array.isArray(feeds) || feeds.length > 64 || !feeds.every((f) => typeof f === 'string' && f !== '' && f.length <= 256)) {
      throw new PluginError(plugin, 'addHooks', `"feeds" must be a list of graph input names (got ${quoteValue(feeds)})`);
    }
    copy['feeds'] = Object.freeze([...(feeds as string[])]);
  }
  for (const stage of STAGES) {
    let hook: unknown;
    try {
      hook = (hooks as Record<string, unknown>)[stage];
    } catch (cause) {
      throw new PluginError(plugin, 'addHooks', `the hooks could not be read: ${describeCause(cause)}`, { cause });
    }
    if (hook === undefined) continue;
    if (typeof hook !== 'function') {
      throw new PluginError(plugin, 'addHooks', `"${stage}" must be a function (got ${quoteValue(hook)})`);
    }
    let kind: string;
    try {
      kind = Object.prototype.toString.call(hook);
    } catch (cause) {
      throw new PluginError(plugin, 'addHooks', `"${stage}" could not be read: ${describeCause(cause)}`, { cause });
    }
    // Async functions return promises and generator functions return iterators without running:
    // stages are synchronous, so say so at setup rather than at the first token.
    const what = NOT_SYNCHRONOUS[kind];
    if (what !== undefined) {
      throw new PluginError(plugin, 'addHooks', `"${stage}" is ${what}, but stages are synchronous: make it a plain function and start any asynchronous work without returning it`);
    }
    const fn = hook as (...args: never[]) => unknown;
    copy[stage] = (...args: never[]) => Reflect.apply(fn, hooks, args);
  }
  return Object.freeze(copy) as GenerationHooks;
}
