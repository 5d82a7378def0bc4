import { execFile, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
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
 * The built CLI installed without its optional peer: dist/ and package.json copied into a
 * project's node_modules, next to links to every package it depends on, and no @weft/backend-web
 * (nothing above a temporary folder holds one).
 */
describe.skipIf(!built)('the weft bin in a project without @weft/backend-web', () => {
  let project = '';
  let bin = '';
  beforeAll(() => {
    project = mkdtempSync(join(tmpdir(), 'weft-no-web-'));
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
    bin = join(installed, 'dist/bin.js');
  });
  afterAll(() => {
    if (project !== '') rmSync(project, { recursive: true, force: true });
  });

  const run = (args: readonly string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [bin, ...args], { cwd: project, timeout: 60_000 }, (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr }),
      );
    });

  it('says how to install it for --backend web, on one line with exit code 2', async () => {
    const result = await run(['generate', '--model', storyModel, '--backend', 'web', '--prompt', 'Once', '--max-tokens', '2']);
    expect(result).toEqual({ code: 2, stdout: '', stderr: `${HINT}\n` });
  });

  it('generates with --backend auto on the other backends, and info lists only those', async () => {
    const generated = await run(['generate', '--model', storyModel, '--threads', '1', '--prompt', 'Once upon a time', '--max-tokens', '3', '--json']);
    expect(generated.stderr).toBe('');
    expect(generated.code).toBe(0);
    const records = generated.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; backend?: string; rejected?: { name: string }[]; ids?: number[] });
    expect(records[0]).toMatchObject({ type: 'backend', backend: 'node' });
    expect(records[0]!.rejected!.map((r) => r.name)).toEqual(['npu']);
    expect(records.at(-1)).toMatchObject({ type: 'done', ids: expect.any(Array) });

    const info = await run(['info', '--model', storyModel, '--threads', '1', '--backend', 'node', '--json']);
    expect(info.code).toBe(0);
    const registry = (JSON.parse(info.stdout) as { registry: { kinds: Record<string, { name: string }[]> } }).registry;
    expect(registry.kinds['backend']!.map((e) => e.name).sort()).toEqual(['node', 'npu']);
  });
});
