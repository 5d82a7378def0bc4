import semver from 'semver';
import { WEFT_API_VERSION } from '../runtime/api-version.js';
import type { PluginContext } from '../spec/plugin.js';
import { describeCause, quoteValue, truncateText } from '../util/describe-cause.js';

const NAME = /^(@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/;
/** npm's limit on package names. */
export const MAX_NAME_LENGTH = 214;
/** Longest `version` and `apiVersion` accepted (checked before semver parses them). */
export const MAX_VERSION_LENGTH = 256;

/** The fields of a manifest, read once; the host uses only these afterwards. */
export interface ManifestSnapshot {
  readonly name: string;
  readonly version: string;
  readonly apiVersion: string;
  readonly description: string | undefined;
  readonly setup: (context: PluginContext) => void | Promise<void>;
}

/** A manifest that was read and checked, or why not, with the name to report it under. */
export type ManifestReading =
  | { readonly ok: true; readonly manifest: ManifestSnapshot }
  | { readonly ok: false; readonly plugin: string; readonly problem: string };

/**
 * Reads a plugin manifest exactly once into a plain snapshot (getters, proxies and revoked
 * proxies that throw become a problem, never an exception) and checks it: npm-style name, semver
 * version, an `apiVersion` range that names the API majors it supports, a `setup` function.
 * `hostApiVersion` is the API version the far-future check counts majors from.
 */
export function readManifest(manifest: unknown, hostApiVersion: string = WEFT_API_VERSION): ManifestReading {
  if (typeof manifest !== 'object' || manifest === null) {
    return { ok: false, plugin: '<unnamed>', problem: `the manifest must be an object (got ${quoteValue(manifest)})` };
  }
  let fields: Record<'name' | 'version' | 'apiVersion' | 'description' | 'setup', unknown>;
  try {
    const m = manifest as Record<string, unknown>;
    fields = { name: m['name'], version: m['version'], apiVersion: m['apiVersion'], description: m['description'], setup: m['setup'] };
  } catch (cause) {
    return { ok: false, plugin: '<unnamed>', problem: `the manifest could not be read: ${describeCause(cause)}` };
  }
  const { name, version, apiVersion, description, setup } = fields;
  const plugin = typeof name === 'string' && name !== '' ? truncateText(name, MAX_NAME_LENGTH) : '<unnamed>';
  const problem = findProblem(name, version, apiVersion, description, setup, hostApiVersion);
  if (problem !== undefined) return { ok: false, plugin, problem };
  return {
    ok: true,
    manifest: Object.freeze({
      name: name as string,
      version: version as string,
      apiVersion: apiVersion as string,
      description: description as string | undefined,
      setup: setup as ManifestSnapshot['setup'],
    }),
  };
}

function findProblem(name: unknown, version: unknown, apiVersion: unknown, description: unknown, setup: unknown, host: string): string | undefined {
  if (typeof name !== 'string' || name.length > MAX_NAME_LENGTH || !NAME.test(name)) {
    return `"name" must be an npm-style package name of at most ${MAX_NAME_LENGTH} characters (got ${quoteValue(name)})`;
  }
  if (typeof version !== 'string' || version.length > MAX_VERSION_LENGTH || semver.valid(version) === null) {
    return `"version" must be a semver version such as 1.0.0 (got ${quoteValue(version)})`;
  }
  const rangeProblem = apiVersionProblem(apiVersion, host);
  if (rangeProblem !== undefined) return rangeProblem;
  if (description !== undefined && typeof description !== 'string') return `"description" must be a string (got ${quoteValue(description)})`;
  if (typeof setup !== 'function') return `"setup" must be a function (got ${quoteValue(setup)})`;
  return undefined;
}

function apiVersionProblem(apiVersion: unknown, host: string): string | undefined {
  if (typeof apiVersion !== 'string' || apiVersion.trim() === '' || apiVersion.length > MAX_VERSION_LENGTH || semver.validRange(apiVersion) === null) {
    return `"apiVersion" must be a semver range such as ^0.1.0 of at most ${MAX_VERSION_LENGTH} characters (got ${quoteValue(apiVersion)})`;
  }
  if (hasNoUpperBound(apiVersion)) {
    const farFuture = `${(semver.parse(host)?.major ?? 0) + 100}.0.0`;
    return `"apiVersion" ${quoteValue(apiVersion)} accepts every future Weft plugin API (even ${farFuture}); a plugin must name the API majors it supports, e.g. ^0.1.0`;
  }
  return undefined;
}

/**
 * Whether some alternative of the range (`a || b`) has no upper bound: no `<` or `<=` comparator
 * and no exact version (`*`, `>=1`), so every later version satisfies it.
 */
function hasNoUpperBound(range: string): boolean {
  return new semver.Range(range).set.some(
    (alternative) => !alternative.some((c) => c.operator === '<' || c.operator === '<=' || (c.operator === '' && c.value !== '')),
  );
}
