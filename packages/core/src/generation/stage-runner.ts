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
    if (WeftError.isInstance(cause) && cause.code === 'plugin') throw cause;
    throw new PluginError(owner, stage, cause instanceof Error ? cause.message : String(cause), { cause });
  }
}
