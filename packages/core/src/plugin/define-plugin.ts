import { PluginError } from '../errors/plugin-error.js';
import { WEFT_PLUGIN, type WeftPlugin, type WeftPluginManifest } from '../spec/plugin.js';
import { readManifest } from './validate-manifest.js';

/**
 * Declares a plugin. The manifest is read once and validated now (name, semver version, an
 * apiVersion range naming the API majors it supports, setup function), so a malformed plugin
 * fails where it is written. Returns a frozen plugin holding only the manifest's fields.
 *
 * @example
 * export const shout = () => definePlugin({
 *   name: 'shout', version: '1.0.0', apiVersion: '^0.1.0',
 *   setup(ctx) { ctx.register('logits-processor', { name: 'shout', create: () => ({ name: 'shout', process() {} }) }); },
 * });
 */
export function definePlugin(manifest: WeftPluginManifest): WeftPlugin {
  const reading = readManifest(manifest);
  if (!reading.ok) throw new PluginError(reading.plugin, 'manifest', reading.problem);
  const { name, version, apiVersion, description, setup } = reading.manifest;
  return Object.freeze({
    name,
    version,
    apiVersion,
    ...(description === undefined ? {} : { description }),
    setup,
    [WEFT_PLUGIN]: true as const,
  });
}
