import { WeftError, hasCode } from './weft-error.js';

/** A plugin's manifest was rejected, or its code failed during setup or a generation stage. */
export class PluginError extends WeftError {
  declare readonly code: 'plugin';
  readonly plugin: string;
  /** Where it failed: `manifest`, `setup`, or a stage name such as `afterForward`. */
  readonly stage: string;

  constructor(plugin: string, stage: string, message: string, options: { cause?: unknown } = {}) {
    super('plugin', `Plugin "${plugin}" failed in ${stage}: ${message}`, options);
    // A literal, not the class's own name, which a minifier renames (browser bundles).
    if (new.target === PluginError) this.name = 'PluginError';
    this.plugin = plugin;
    this.stage = stage;
  }

  static override isInstance(error: unknown): error is PluginError {
    return hasCode(error, 'plugin');
  }
}
