import { PluginError } from '../errors/plugin-error.js';
import { WeftError } from '../errors/weft-error.js';

/**
 * Runs plugin code for a stage, turning any failure into a `PluginError` that names the plugin
 * and stage (core's own typed errors pass through unchanged).
 */
export function runStage<T>(owner: string, stage: string, fn: () => T): T {
  try {
    return fn();
  } catch (cause) {
    throw stageFailure(owner, stage, cause);
  }
}

/** What a failure inside plugin code becomes: a `PluginError` naming the plugin and stage. */
export function stageFailure(owner: string, stage: string, cause: unknown): Error {
  if (WeftError.isInstance(cause) && cause.code === 'plugin') return cause;
  return new PluginError(owner, stage, cause instanceof Error ? cause.message : String(cause), { cause });
}
