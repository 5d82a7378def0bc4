import semver from 'semver';

const NAME = /^(@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/;

/** Returns what is wrong with a plugin manifest, or undefined when it is well formed. */
export function validateManifest(manifest: unknown): string | undefined {
  if (typeof manifest !== 'object' || manifest === null) return 'the manifest must be an object';
  const m = manifest as Record<string, unknown>;
  if (typeof m['name'] !== 'string' || !NAME.test(m['name']) || m['name'].length > 214) {
    return `"name" must be an npm-style package name (got ${JSON.stringify(m['name'])})`;
  }
  if (typeof m['version'] !== 'string' || semver.valid(m['version']) === null) {
    return `"version" must be a semver version such as 1.0.0 (got ${JSON.stringify(m['version'])})`;
  }
  if (typeof m['apiVersion'] !== 'string' || semver.validRange(m['apiVersion']) === null) {
    return `"apiVersion" must be a semver range such as ^0.1.0 (got ${JSON.stringify(m['apiVersion'])})`;
  }
  if (typeof m['setup'] !== 'function') return '"setup" must be a function';
  return undefined;
}
