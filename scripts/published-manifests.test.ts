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

  it.each(dirs.map((d) => [d.slice(root.length + 1), d]))('%s ships declarations older TypeScript reads (no typed-array generics)', (_, dir) => {
    // TypeScript 5.7 made typed arrays generic and infers e.g. Float32Array<ArrayBuffer> for a
    // default parameter; written into a .d.ts, that fails to type-check in a consumer on TS <= 5.6.
    const dist = join(dir, 'dist');
    if (!existsSync(dist)) return; // not built: checked by the build the test command runs first
    const declarations = (readdirSync(dist, { recursive: true }) as string[]).filter((f) => f.endsWith('.d.ts'));
    expect(declarations.length).toBeGreaterThan(0);
    for (const file of declarations) {
      const text = readFileSync(join(dist, file), 'utf8');
      expect(text, `${dir}/dist/${file}`).not.toMatch(/(Int8|Uint8|Uint8Clamped|Int16|Uint16|Int32|Uint32|Float32|Float64|BigInt64|BigUint64)Array<|\bArrayBufferLike>/);
    }
  });
});
