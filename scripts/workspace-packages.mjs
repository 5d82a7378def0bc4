/**
 * The workspace's package folders, found the way pnpm-workspace.yaml lays them out:
 * packages/<name> and packages/<group>/<name> that hold a package.json. Plain JavaScript so that
 * scripts which run before a build (clean-build.mjs) can use it as well as the TypeScript tests.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root folder (absolute, with a trailing separator). */
export const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/**
 * Absolute paths of every workspace package's folder.
 * @returns {string[]}
 */
export function workspacePackageDirs() {
  const packagesDir = join(repoRoot, 'packages');
  return readdirSync(packagesDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => {
      const dir = join(packagesDir, entry.name);
      if (existsSync(join(dir, 'package.json'))) return [dir];
      return readdirSync(dir, { withFileTypes: true })
        .filter((child) => child.isDirectory())
        .map((child) => join(dir, child.name));
    })
    .filter((dir) => existsSync(join(dir, 'package.json')));
}
