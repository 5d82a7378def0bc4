/**
 * Packs the workspace's publishable packages as `pnpm publish` would (publishConfig applied,
 * `workspace:` ranges replaced) and installs the tarballs into a consumer project the way npm or
 * pnpm would lay them out: each @weft package a real directory under node_modules, each third-party
 * dependency it declares beside it. No registry is contacted; third-party packages are links to the
 * copies the workspace already installed.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, symlinkSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { INSTALLED_DEPENDENCY_FIELDS, type PackedManifest } from './packed-packages-checks.js';
import { repoRoot, workspacePackageDirs } from './workspace-packages.mjs';

export { repoRoot };
const run = promisify(execFile);

export interface WorkspacePackage {
  readonly name: string;
  readonly version: string;
  /** Absolute path of the package's folder in the workspace. */
  readonly dir: string;
}

export interface PackedPackage extends WorkspacePackage {
  readonly tarball: string;
  /** Where the tarball was extracted in the consumer project (node_modules/<name>). */
  readonly installedDir: string;
  /** package.json as the tarball holds it. */
  readonly manifest: PackedManifest;
  /** Every file in the tarball, relative to its package root, with "/" separators. */
  readonly files: readonly string[];
}

/** Publishable packages: packages/<name> and packages/<group>/<name> that hold a package.json. */
export function workspacePackages(): WorkspacePackage[] {
  return workspacePackageDirs().map((dir) => {
    const { name, version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; version: string };
    return { name, version, dir };
  });
}

async function runOrThrow(what: string, file: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<string> {
  try {
    const { stdout } = await run(file, args, { ...options, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const { code, stdout = '', stderr = '' } = error as { code?: number | string; stdout?: string; stderr?: string };
    throw new Error(`${what} failed (exit ${String(code)}):\n${stderr}${stdout}`.trim(), { cause: error });
  }
}

/**
 * One `pnpm pack` over every package (a single pnpm start-up instead of one per package).
 * `prefer-offline` lets npx run the pnpm it has cached without asking the registry about `pnpm@10`.
 */
async function packAll(packages: readonly WorkspacePackage[], destination: string): Promise<Map<string, string>> {
  const filters = packages.flatMap((pkg) => ['--filter', `./${relative(repoRoot, pkg.dir).split(sep).join('/')}`]);
  const stdout = await runOrThrow('pnpm pack', 'npx', ['--yes', 'pnpm@10', '--recursive', ...filters, 'pack', '--pack-destination', destination, '--json'], {
    cwd: repoRoot,
    env: { ...process.env, npm_config_prefer_offline: 'true' },
  });
  // pnpm prints one object for a single package, an array for several.
  const parsed = JSON.parse(stdout) as { name: string; filename: string } | { name: string; filename: string }[];
  return new Map((Array.isArray(parsed) ? parsed : [parsed]).map((entry) => [entry.name, entry.filename]));
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
}

/**
 * Packs every package and extracts each tarball to `<consumerDir>/node_modules/<name>`. A package
 * pnpm did not pack fails here rather than being left out of the checks.
 */
export async function packInto(tarballDir: string, consumerDir: string): Promise<PackedPackage[]> {
  const packages = workspacePackages();
  const tarballs = await packAll(packages, tarballDir);
  const packed: PackedPackage[] = [];
  for (const pkg of packages) {
    const tarball = tarballs.get(pkg.name);
    if (tarball === undefined) throw new Error(`pnpm pack produced no tarball for ${pkg.name} (it produced: ${[...tarballs.keys()].join(', ')})`);
    const installedDir = join(consumerDir, 'node_modules', ...pkg.name.split('/'));
    mkdirSync(installedDir, { recursive: true });
    // npm and pnpm tarballs hold everything under "package/".
    await runOrThrow(`extracting ${tarball}`, 'tar', ['-xzf', tarball, '-C', installedDir, '--strip-components=1'], { cwd: consumerDir });
    const manifest = JSON.parse(readFileSync(join(installedDir, 'package.json'), 'utf8')) as PackedManifest;
    packed.push({ ...pkg, tarball, installedDir, manifest, files: filesUnder(installedDir) });
  }
  return packed;
}

/**
 * Links every third-party package the packed packages declare into the consumer's node_modules,
 * pointing at the real folder of the copy the declaring workspace package has installed (its own
 * dependencies then resolve from the pnpm store, as they do in the workspace). A declared package
 * the workspace never installed is an error: the consumer run would otherwise test less than it says.
 */
export function linkThirdPartyDependencies(packed: readonly PackedPackage[], consumerDir: string): void {
  const linked = new Set<string>();
  for (const pkg of packed) {
    for (const field of INSTALLED_DEPENDENCY_FIELDS) {
      for (const dependency of Object.keys(pkg.manifest[field] ?? {})) {
        if (dependency.startsWith('@weft/') || linked.has(dependency)) continue;
        const installed = join(pkg.dir, 'node_modules', dependency);
        if (!existsSync(installed)) throw new Error(`${pkg.name} declares ${dependency} (${field}), which ${relative(repoRoot, installed)} does not hold: run pnpm install`);
        const target = realpathSync(installed);
        const link = join(consumerDir, 'node_modules', dependency);
        mkdirSync(dirname(link), { recursive: true });
        symlinkSync(target, link, 'dir');
        linked.add(dependency);
      }
    }
  }
}

/** Runs `node args…` in the consumer project; resolves with stdout, rejects with the exit status and stderr. */
export function runNode(consumerDir: string, args: readonly string[]): Promise<string> {
  return runOrThrow(`node ${args.join(' ')}`, process.execPath, args, { cwd: consumerDir });
}

/** Type-checks the consumer project with the workspace's TypeScript; resolves with tsc's output when it passes. */
export function typeCheck(consumerDir: string): Promise<string> {
  return runOrThrow('tsc', process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', join(consumerDir, 'tsconfig.json')], { cwd: consumerDir });
}
