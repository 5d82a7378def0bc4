#!/usr/bin/env node
/**
 * Writes each package's version (from its package.json) into its `src/version.ts`, the constant
 * plugin manifests use so browser builds need no JSON import or `node:module`. Runs after
 * `changeset version` (the `version-packages` script); `--check` only reports mismatches (exit 1).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const check = process.argv.includes('--check');
const CONSTANT = /export const VERSION = '([^']*)';/;

/** Package folders under packages/ (one or two levels deep) that have a src/version.ts. */
function versionedPackages() {
  const found = [];
  const visit = (dir, depth) => {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src/version.ts'))) found.push(dir);
    if (depth === 0) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory() && entry.name !== 'node_modules' && entry.name !== 'dist' && entry.name !== 'src') visit(join(dir, entry.name), depth - 1);
    }
  };
  visit(join(root, 'packages'), 2);
  return found;
}

let stale = 0;
for (const dir of versionedPackages()) {
  const { name, version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const file = join(dir, 'src/version.ts');
  const text = readFileSync(file, 'utf8');
  const match = CONSTANT.exec(text);
  if (!match) throw new Error(`${file} has no \`export const VERSION = '…';\``);
  if (match[1] === version) continue;
  stale++;
  if (check) console.error(`${name}: src/version.ts says ${match[1]}, package.json ${version}`);
  else {
    writeFileSync(file, text.replace(CONSTANT, `export const VERSION = '${version}';`));
    console.log(`${name}: VERSION ${match[1]} -> ${version}`);
  }
}
if (check && stale > 0) process.exit(1);
