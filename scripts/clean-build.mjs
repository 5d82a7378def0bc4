#!/usr/bin/env node
/**
 * Deletes every workspace package's build output (dist/ and tsc's build state), and that of the
 * examples the root build compiles, so the next `pnpm build` starts empty. `tsc -b` never deletes the output of a source file that was removed
 * or renamed, and `tsc -b --clean` only knows today's sources, so a release built over an old
 * dist/ would publish those leftovers; `pnpm release` runs this first.
 *
 *   node scripts/clean-build.mjs
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, workspacePackageDirs } from './workspace-packages.mjs';

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log('node scripts/clean-build.mjs: deletes packages/**/dist, examples/*/dist (examples with a tsconfig.json) and their tsconfig*.tsbuildinfo.');
  process.exit(0);
}

// The packages, and the examples the root build compiles with tsc (those with a tsconfig.json).
const examples = join(repoRoot, 'examples');
const packageDirs = [
  ...workspacePackageDirs(),
  ...readdirSync(examples, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(examples, entry.name, 'tsconfig.json')))
    .map((entry) => join(examples, entry.name)),
];

for (const dir of packageDirs) {
  rmSync(join(dir, 'dist'), { recursive: true, force: true });
  for (const file of readdirSync(dir)) if (/^tsconfig.*\.tsbuildinfo$/.test(file)) rmSync(join(dir, file), { force: true });
}
console.log(`Cleaned ${packageDirs.length} packages and examples.`);
