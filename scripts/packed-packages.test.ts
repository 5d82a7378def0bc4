/**
 * Every publishable package as a consumer gets it from npm: packed with pnpm (publishConfig
 * applied, `workspace:` ranges replaced), its manifest and files checked, then installed from the
 * tarballs into a scratch project that imports, runs and type-checks them by name.
 * scripts/published-manifests.test.ts checks the workspace manifests themselves; this checks what
 * pnpm makes of them. Needs `pnpm build` first (the tarballs ship dist/).
 */
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  conditionPaths,
  danglingSourceMaps,
  entryPointFiles,
  litterFiles,
  optionalPeerTypeImports,
  staleWorkspaceRanges,
  undeclaredImports,
  workspaceProtocols,
} from './packed-packages-checks.js';
import { linkThirdPartyDependencies, packInto, repoRoot, runNode, typeCheck, workspacePackages, type PackedPackage } from './packed-packages.js';
import { greedyIds } from './packed-packages-consumer.mjs';

const MODEL_DIR = join(repoRoot, 'models/story');
const CONSUMER_SCRIPT = 'packed-packages-consumer.mjs';
const CONSUMER_TYPES = 'packed-packages-consumer-types.ts';
const PACK_TIMEOUT_MS = 180_000;

const workspace = workspacePackages();
const workspaceVersions = new Map(workspace.map((pkg) => [pkg.name, pkg.version]));

let scratchDir: string | undefined;
let consumerDir = '';
const packed = new Map<string, PackedPackage>();

function packedPackage(name: string): PackedPackage {
  const pkg = packed.get(name);
  if (pkg === undefined) throw new Error(`${name} was not packed (see the beforeAll error)`);
  return pkg;
}

beforeAll(async () => {
  scratchDir = await mkdtemp(join(tmpdir(), 'weft-packed-'));
  consumerDir = join(scratchDir, 'consumer');
  for (const pkg of await packInto(join(scratchDir, 'tarballs'), consumerDir)) packed.set(pkg.name, pkg);
  linkThirdPartyDependencies([...packed.values()], consumerDir);
  await writeFile(join(consumerDir, 'package.json'), `${JSON.stringify({ name: 'weft-packed-consumer', private: true, type: 'module' }, null, 2)}\n`);
  await writeFile(
    join(consumerDir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        // Checks the shipped declarations and everything they pull in, as a strict consumer would.
        skipLibCheck: false,
        // No ambient @types (no @types/node either): a type the declarations use must come from an import they make.
        types: [],
        noEmit: true,
      },
      files: [CONSUMER_TYPES],
    }),
  );
  for (const file of [CONSUMER_SCRIPT, CONSUMER_TYPES]) await copyFile(join(repoRoot, 'scripts', file), join(consumerDir, file));
}, PACK_TIMEOUT_MS);

afterAll(async () => {
  if (scratchDir !== undefined) await rm(scratchDir, { recursive: true, force: true });
});

describe('packed packages', () => {
  it('packs every publishable package', () => {
    expect(workspace.length).toBeGreaterThanOrEqual(7);
    expect([...packed.keys()].sort()).toEqual(workspace.map((pkg) => pkg.name).sort());
  });

  const names = workspace.map((pkg) => [pkg.name] as const);

  it.each(names)('%s: the packed package.json has no workspace-only fields or ranges', (name) => {
    const { manifest } = packedPackage(name);
    expect(workspaceProtocols(manifest)).toEqual([]);
    expect(conditionPaths(manifest.exports, 'source')).toEqual([]);
    expect(staleWorkspaceRanges(manifest, workspaceVersions)).toEqual([]);
  });

  it.each(names)('%s: every file its manifest points at is in the tarball', (name) => {
    const { manifest, files } = packedPackage(name);
    const entries = entryPointFiles(manifest);
    expect(entries.length).toBeGreaterThan(0);
    expect(entries.filter((file) => !files.includes(file))).toEqual([]);
  });

  it.each(names)('%s: the tarball holds no tests, build state or stale build output', (name) => {
    const { files, installedDir } = packedPackage(name);
    expect(litterFiles(files)).toEqual([]);
    // Typically the output of a source file deleted since the last full build: delete dist/ and build again.
    expect(danglingSourceMaps(files, (file) => readFileSync(join(installedDir, file), 'utf8')), 'source maps whose source is not shipped').toEqual([]);
  });

  it.each(names)('%s: its dist imports only Node builtins and packages it declares', (name) => {
    const { manifest, files, installedDir } = packedPackage(name);
    expect(files.some((file) => file.startsWith('dist/') && file.endsWith('.js'))).toBe(true);
    expect(undeclaredImports(manifest, files, (file) => readFileSync(join(installedDir, file), 'utf8'))).toEqual([]);
  });

  it.each(names)('%s: its declarations type-check without its optional peers (they import none)', (name) => {
    const { manifest, files, installedDir } = packedPackage(name);
    expect(optionalPeerTypeImports(manifest, files, (file) => readFileSync(join(installedDir, file), 'utf8'))).toEqual([]);
  });
});

describe('a project that installed the tarballs', () => {
  it('runs the packages by name and generates what the workspace sources generate', async () => {
    const stdout = await runNode(consumerDir, [CONSUMER_SCRIPT, MODEL_DIR]);
    const { ids } = JSON.parse(stdout) as { ids: number[] };
    expect(ids.length).toBeGreaterThan(0);
    expect(ids).toEqual(await greedyIds(MODEL_DIR));
  });

  it("runs the CLI's bin", async () => {
    const { manifest } = packedPackage('@weft/cli');
    const bin = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin?.['weft'];
    expect(bin).toBeDefined();
    const binPath = join(consumerDir, 'node_modules/@weft/cli', bin!);
    // npm links the bin into node_modules/.bin and runs it directly: without the shebang it is not run by node.
    expect((await readFile(binPath, 'utf8')).startsWith('#!/usr/bin/env node\n')).toBe(true);
    const stdout = await runNode(consumerDir, [binPath, 'generate', '--model', MODEL_DIR, '--prompt-ids', '1,423,82', '--max-tokens', '3', '--json']);
    const events = stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; ids?: number[] });
    const done = events.find((event) => event.type === 'done');
    expect(done?.ids).toHaveLength(3);
  });

  it('type-checks against the shipped declarations with skipLibCheck off', async () => {
    // Rejects with tsc's diagnostics when a declaration does not resolve.
    await typeCheck(consumerDir);
  });
});
