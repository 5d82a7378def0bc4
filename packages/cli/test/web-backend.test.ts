import { execFile, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BackendError } from '@weft/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitCodeOf, UsageError } from '../src/index.js';
import { loadWebBackend, type WebBackendModule } from '../src/web-backend.js';
import { cli, storyModel } from './helpers.js';

const HINT = 'weft: --backend web needs @weft/backend-web, which is not installed; install it beside @weft/cli (npm i @weft/backend-web)';

/**
 * An importer that fails as Node's `import(specifier)` fails in an empty temporary folder (no
 * node_modules above it): the error is Node's own, got from a child process, since vitest's
 * resolver would find the workspace's packages from anywhere.
 */
function importerOf(specifier: string): { importer: () => Promise<WebBackendModule>; cleanUp(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'weft-web-import-'));
  const script = `import(${JSON.stringify(specifier)}).then(() => console.log('null'), (e) => console.log(JSON.stringify({ code: e.code, message: e.message })))`;
  const failure = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, encoding: 'utf8' })) as { code: string; message: string } | null;
  if (failure === null) throw new Error(`${specifier} was found from ${dir}`);
  return {
    importer: () => Promise.reject(Object.assign(new Error(failure.message), { code: failure.code })),
    cleanUp: () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('loadWebBackend', () => {
  it('gives the web backend plugin when @weft/backend-web is installed', async () => {
    const plugin = await loadWebBackend(true);
    expect(plugin?.name).toBe('@weft/backend-web');
  });

  it('is a usage error saying how to install the package when --backend web needs it and it is missing', async () => {
    const missing = importerOf('@weft/backend-web');
    try {
      const error = await rejection(loadWebBackend(true, missing.importer));
      expect(error).toBeInstanceOf(UsageError);
      expect(`weft: ${(error as Error).message}`).toBe(HINT);
      expect(exitCodeOf(error)).toBe(2);
      // The import's own error stays reachable (WEFT_DEBUG prints it).
      expect((error as Error).cause).toMatchObject({ code: 'ERR_MODULE_NOT_FOUND' });
    } finally {
      missing.cleanUp();
    }
  });

  it('leaves the web backend out, without an error, when nothing asked for it and it is missing', async () => {
    const missing = importerOf('@weft/backend-web');
    try {
      await expect(loadWebBackend(false, missing.importer)).resolves.toBeUndefined();
    } finally {
      missing.cleanUp();
    }
  });

  it('reports an installed package that fails to import (a module it imports is missing), whether required or not', async () => {
    const broken = importerOf('onnxruntime-web-not-here');
    try {
      for (const required of [true, false]) {
        const error = await rejection(loadWebBackend(required, broken.importer));
        expect(BackendError.isInstance(error)).toBe(true);
        expect((error as Error).message).toMatch(/^@weft\/backend-web is installed but cannot be imported: .*onnxruntime-web-not-here.*; reinstall it \(npm i @weft\/backend-web\)$/);
      }
      const thrown = new Error('boom');
      await expect(loadWebBackend(false, () => Promise.reject(thrown))).rejects.toMatchObject({ message: expect.stringContaining('boom'), cause: thrown });
    } finally {
      broken.cleanUp();
    }
  });
});

describe('weft info with @weft/backend-web installed', () => {
  it('lists the web backend also when --backend names another one', async () => {
    const result = await cli(['info', '--model', storyModel, '--threads', '1', '--backend', 'node', '--json']);
    expect(result.code).toBe(0);
    const registry = (result.json()[0] as { registry: { kinds: Record<string, { name: string }[]> } }).registry;
    expect(registry.kinds['backend']!.map((e) => e.name).sort()).toEqual(['node', 'npu', 'web']);
  });
});

const cliDir = fileURLToPath(new URL('..', import.meta.url));
const built = existsSync(join(cliDir, 'dist/bin.js'));
if (!built) console.warn(`[weft cli tests] ${cliDir}dist/bin.js is not built (run pnpm run build): the test without @weft/backend-web is skipped.`);

/**
 * The built CLI installed in a temporary project: dist/ and package.json copied into its
 * node_modules, next to links to every package it depends on. With `web: 'absent'` there is no
 * @weft/backend-web (nothing above a temporary folder holds one); with `web: 'broken'` there is
 * one whose entry point imports a module that is not installed.
 */
function installCli(web: 'absent' | 'broken'): { project: string; bin: string } {
  const project = mkdtempSync(join(tmpdir(), `weft-${web}-web-`));
  const installed = join(project, 'node_modules/@weft/cli');
  cpSync(join(cliDir, 'dist'), join(installed, 'dist'), { recursive: true });
  cpSync(join(cliDir, 'package.json'), join(installed, 'package.json'));
  const manifest = JSON.parse(readFileSync(join(cliDir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  expect(Object.keys(manifest.dependencies)).not.toContain('@weft/backend-web');
  for (const name of Object.keys(manifest.dependencies)) {
    const link = join(project, 'node_modules', name);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(realpathSync(join(cliDir, 'node_modules', name)), link, 'dir');
  }
  if (web === 'broken') {
    const pkg = join(project, 'node_modules/@weft/backend-web');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: '@weft/backend-web', version: '0.0.0', type: 'module', exports: './index.js' }));
    writeFileSync(join(pkg, 'index.js'), "export * from 'onnxruntime-web-not-here';\n");
  }
  // A plugin registering a backend named `web`: the bundled node backend under that name.
  writeFileSync(
    join(project, 'web-named-backend.mjs'),
    `export default {
  name: 'weft-plugin-web-named', version: '1.0.0', apiVersion: '^0.1.0',
  setup(ctx) {
    ctx.register('backend', {
      name: 'web',
      create: () => {
        const node = ctx.registry.resolve('backend', { name: 'node' }).create();
        return { specificationVersion: 'v1', name: 'web', probe: () => node.probe(), createSession: (source, options) => node.createSession(source, options) };
      },
    });
  },
};
`,
  );
  return { project, bin: join(installed, 'dist/bin.js') };
}

function runIn(target: { project: string; bin: string }, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [target.bin, ...args], { cwd: target.project, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr }),
    );
  });
}

/**
 * The CLI installed as {@link installCli} does, for the enclosing describe (made before its tests,
 * removed after them); returns what runs the bin there.
 */
function installedCli(web: 'absent' | 'broken'): (args: readonly string[]) => ReturnType<typeof runIn> {
  let target = { project: '', bin: '' };
  beforeAll(() => {
    target = installCli(web);
  });
  afterAll(() => {
    if (target.project !== '') rmSync(target.project, { recursive: true, force: true });
  });
  return (args) => runIn(target, args);
}

type JsonRecord = { type: string; backend?: string; rejected?: { name: string }[]; ids?: number[] };
const records = (stdout: string): JsonRecord[] => stdout.trim().split('\n').map((line) => JSON.parse(line) as JsonRecord);

describe.skipIf(!built)('the weft bin in a project without @weft/backend-web', () => {
  const run = installedCli('absent');

  it('says how to install it for --backend web, on one line with exit code 2', async () => {
    const result = await run(['generate', '--model', storyModel, '--backend', 'web', '--prompt', 'Once', '--max-tokens', '2']);
    expect(result).toEqual({ code: 2, stdout: '', stderr: `${HINT}\n` });
  });

  it('runs --backend web on a backend named web that a --plugin registers', async () => {
    // Before: the missing package was reported before the --plugin was installed.
    const result = await run(['generate', '--model', storyModel, '--threads', '1', '--plugin', './web-named-backend.mjs', '--backend', 'web', '--prompt', 'Once', '--max-tokens', '2', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = records(result.stdout);
    expect(lines[0]).toMatchObject({ type: 'backend', backend: 'web' });
    expect(lines.at(-1)).toMatchObject({ type: 'done', ids: expect.any(Array) });
  });

  it('generates with --backend auto on the other backends, and info lists only those', async () => {
    const generated = await run(['generate', '--model', storyModel, '--threads', '1', '--prompt', 'Once upon a time', '--max-tokens', '3', '--json']);
    expect(generated.stderr).toBe('');
    expect(generated.code).toBe(0);
    const lines = records(generated.stdout);
    expect(lines[0]).toMatchObject({ type: 'backend', backend: 'node' });
    expect(lines[0]!.rejected!.map((r) => r.name)).toEqual(['npu']);
    expect(lines.at(-1)).toMatchObject({ type: 'done', ids: expect.any(Array) });

    const info = await run(['info', '--model', storyModel, '--threads', '1', '--backend', 'node', '--json']);
    expect(info.code).toBe(0);
    const registry = (JSON.parse(info.stdout) as { registry: { kinds: Record<string, { name: string }[]> } }).registry;
    expect(registry.kinds['backend']!.map((e) => e.name).sort()).toEqual(['node', 'npu']);
  });
});

describe.skipIf(!built)('the weft bin in a project whose @weft/backend-web cannot be imported', () => {
  const run = installedCli('broken');
  const BROKEN = /^weft: note: @weft\/backend-web is installed but cannot be imported: .*onnxruntime-web-not-here.*; reinstall it \(npm i @weft\/backend-web\); going on without the web backend\n$/;

  it('generates with --backend auto on the other backends, with a note saying why web is left out', async () => {
    // Before: the broken optional backend failed every auto run (exit 1), though node would do.
    const result = await run(['generate', '--model', storyModel, '--threads', '1', '--prompt', 'Once upon a time', '--max-tokens', '3', '--json']);
    expect(result.stderr).toMatch(BROKEN);
    expect(result.code).toBe(0);
    const lines = records(result.stdout);
    expect(lines[0]).toMatchObject({ type: 'backend', backend: 'node' });
    expect(lines.at(-1)).toMatchObject({ type: 'done', ids: expect.any(Array) });
    const info = await run(['info', '--model', storyModel, '--threads', '1', '--json']);
    expect(info.stderr).toMatch(BROKEN);
    expect(info.code).toBe(0);
  });

  it('runs --backend web on a backend named web that a --plugin registers', async () => {
    // Before: the broken install was reported before the --plugin was installed.
    const result = await run(['generate', '--model', storyModel, '--threads', '1', '--plugin', './web-named-backend.mjs', '--backend', 'web', '--prompt', 'Once', '--max-tokens', '2', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(records(result.stdout)[0]).toMatchObject({ type: 'backend', backend: 'web' });
  });

  it('fails --backend web with the import error on one line, exit code 2 as for the other Weft errors', async () => {
    const result = await run(['generate', '--model', storyModel, '--backend', 'web', '--prompt', 'Once', '--max-tokens', '2']);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^weft: @weft\/backend-web is installed but cannot be imported: .*onnxruntime-web-not-here.*; reinstall it \(npm i @weft\/backend-web\)\n$/);
    expect(result.code).toBe(2);
  });
});
