import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

/** Publishable package folders: packages/<name> and packages/<group>/<name> with a package.json. */
function packageDirs(): string[] {
  const dirs: string[] = [];
  for (const first of readdirSync(join(root, 'packages'), { withFileTypes: true })) {
    if (!first.isDirectory()) continue;
    const dir = join(root, 'packages', first.name);
    if (existsSync(join(dir, 'package.json'))) dirs.push(dir);
    else for (const second of readdirSync(dir, { withFileTypes: true })) if (second.isDirectory() && existsSync(join(dir, second.name, 'package.json'))) dirs.push(join(dir, second.name));
  }
  return dirs;
}

type Exports = Record<string, string | Record<string, string>>;

describe('published package manifests', () => {
  const dirs = packageDirs();
  it('finds the packages', () => {
    expect(dirs.length).toBeGreaterThanOrEqual(7);
  });

  it.each(dirs.map((d) => [d.slice(root.length + 1), d]))('%s publishes its exports without the workspace-only "source" condition', (_, dir) => {
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { exports: Exports; publishConfig?: { exports?: Exports } };
    // In the workspace, "source" points tests and tools at src/*.ts; published, it would make a
    // consumer with customConditions ["source"] type-check the package's sources instead of its .d.ts.
    const withoutSource = Object.fromEntries(
      Object.entries(manifest.exports).map(([key, target]) => [key, typeof target === 'string' ? target : Object.fromEntries(Object.entries(target).filter(([condition]) => condition !== 'source'))]),
    );
    expect(manifest.publishConfig?.exports).toEqual(withoutSource);
    for (const target of Object.values(withoutSource)) {
      for (const file of typeof target === 'string' ? [target] : Object.values(target)) expect(existsSync(join(dir, file)), `${dir}: ${file}`).toBe(true);
    }
  });
});
