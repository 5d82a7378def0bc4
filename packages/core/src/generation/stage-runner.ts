import { PluginError } from '../errors/plugin-error.js';
import { describeCause } from '../util/describe-cause.js';

/**
 * Runs plugin code for a stage, turning any failure into a `PluginError` that names the plugin
 * and stage. Stages are synchronous: plugin code that returns a promise (an `async` hook,
 * analyzer or processor) fails its stream here, and the promise's own rejection is handled, so
 * it can never surface as an unhandled rejection that ends the process.
 */
export function runStage<T>(owner: string, stage: string, fn: () => T): T {
  try {
    return synchronousResult(owner, stage, fn());
  } catch (cause) {
    throw stageFailure(owner, stage, cause);
  }
}

/**
 * `result` as it is, unless it is a promise (or another thenable): then its rejection is handled
 * and a `PluginError` says the stage must be synchronous. For callers that call plugin code
 * directly (no closure per call) inside their own try/catch with {@link stageFailure}.
 */
export function synchronousResult<T>(owner: string, stage: string, result: T): T {
  if (typeof result === 'object' && result !== null && typeof (result as { then?: unknown }).then === 'function') {
    (result as unknown as PromiseLike<unknown>).then(undefined, () => {});
    throw new PluginError(owner, stage, 'returned a promise, but generation stages are synchronous; make it a plain function and start any asynchronous work without returning it.');
  }
  return result;
}

/**
 * What a failure inside plugin code becomes: a `PluginError` naming the plugin and stage. A
 * `PluginError` passes through unchanged only when it names the same plugin, so one plugin's
 * code cannot put the blame on another.
 */
export function stageFailure(owner: string, stage: string, cause: unknown): Error {
  let own = false;
  try {
    own = PluginError.isInstance(cause) && cause.plugin === owner;
  } catch {
    // A value whose property reads throw (e.g. a hostile proxy): described safely below.
  }
  if (own) return cause as PluginError;
  return new PluginError(owner, stage, describeCause(cause), { cause });
}
