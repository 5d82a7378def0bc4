import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const script = join(root, 'scripts/sync-versions.mjs');

describe('sync-versions', () => {
  it('finds every package version constant in step with its package.json', () => {
    // Throws (exit 1, with the mismatches on stderr) when any src/version.ts is stale.
    execFileSync(process.execPath, [script, '--check'], { stdio: 'pipe' });
  });

  it('rewrites a stale constant after a version bump, and --check reports it first', () => {
    const copy = mkdtempSync(join(tmpdir(), 'weft-versions-'));
    try {
      cpSync(join(root, 'scripts'), join(copy, 'scripts'), { recursive: true });
      const pkg = join(copy, 'packages/plugins/kv');
      cpSync(join(root, 'packages/plugins/kv/package.json'), join(pkg, 'package.json'));
      cpSync(join(root, 'packages/plugins/kv/src/version.ts'), join(pkg, 'src/version.ts'));
      const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { version: string };
      writeFileSync(join(pkg, 'package.json'), JSON.stringify({ ...manifest, version: '9.8.7' }));
      const copied = join(copy, 'scripts/sync-versions.mjs');
      expect(() => execFileSync(process.execPath, [copied, '--check'], { stdio: 'pipe' })).toThrow(/src\/version\.ts says 0\.\d+\.\d+, package\.json 9\.8\.7/);
      execFileSync(process.execPath, [copied], { stdio: 'pipe' });
      expect(readFileSync(join(pkg, 'src/version.ts'), 'utf8')).toContain("export const VERSION = '9.8.7';");
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
