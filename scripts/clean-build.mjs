#!/usr/bin/env node
/**
 * Deletes every workspace package's build output (dist/ and tsc's build state), so the next
 * `pnpm build` starts empty. `tsc -b` never deletes the output of a source file that was removed
 * or renamed, and `tsc -b --clean` only knows today's sources, so a release built over an old
 * dist/ would publish those leftovers; `pnpm release` runs this first.
 *
 *   node scripts/clean-build.mjs
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { workspacePackageDirs } from './workspace-packages.mjs';

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log('node scripts/clean-build.mjs: deletes packages/**/dist and their tsconfig*.tsbuildinfo.');
  process.exit(0);
}

const packageDirs = workspacePackageDirs();

for (const dir of packageDirs) {
  rmSync(join(dir, 'dist'), { recursive: true, force: true });
  for (const file of readdirSync(dir)) if (/^tsconfig.*\.tsbuildinfo$/.test(file)) rmSync(join(dir, file), { force: true });
}
console.log(`Cleaned ${packageDirs.length} packages.`);
