import { PluginError } from '../errors/plugin-error.js';
import { WEFT_PLUGIN, type WeftPlugin, type WeftPluginManifest } from '../spec/plugin.js';
import { validateManifest } from './validate-manifest.js';

/**
 * Declares a plugin. The manifest is validated now (name, semver version, apiVersion range,
 * setup function), so a malformed plugin fails where it is written.
 *
 * @example
 * export const shout = () => definePlugin({
 *   name: 'shout', version: '1.0.0', apiVersion: '^0.1.0',
 *   setup(ctx) { ctx.register('logits-processor', { name: 'shout', create: () => ({ name: 'shout', process() {} }) }); },
 * });
 */
export function definePlugin(manifest: WeftPluginManifest): WeftPlugin {
  const problem = validateManifest(manifest);
  if (problem) {
    const name = typeof (manifest as { name?: unknown })?.name === 'string' ? (manifest as { name: string }).name : '<unnamed>';
    throw new PluginError(name, 'manifest', problem);
  }
  return Object.freeze({ ...manifest, [WEFT_PLUGIN]: true as const });
}
