import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

describe('release plan of the pending changesets', () => {
  it('keeps every package in 0.x: a core bump does not push its plugins and backends to 1.0.0', () => {
    // Changesets bumps a package a major version when a dependency leaves its peer range; the
    // plugins' and backends' peer range on core (and npu's on backend-web) spans 0.x for that reason
    // (runtime compatibility is the plugin manifest's apiVersion check).
    const cli = createRequire(join(root, 'package.json')).resolve('@changesets/cli/bin.js');
    const dir = mkdtempSync(join(tmpdir(), 'weft-release-'));
    try {
      const output = join(dir, 'plan.json');
      execFileSync(process.execPath, [cli, 'status', '--output', output], { cwd: root, stdio: 'pipe' });
      const plan = JSON.parse(readFileSync(output, 'utf8')) as { releases: { name: string; type: string; newVersion: string }[] };
      const leaving = plan.releases.filter((r) => r.type === 'major' || !r.newVersion.startsWith('0.'));
      expect(leaving).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
