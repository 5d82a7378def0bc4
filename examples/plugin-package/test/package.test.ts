/**
 * The package as its users get it: the built dist/ run by the built `weft` CLI with `--plugin`,
 * and the tarball `pnpm pack` makes of it (as `pnpm publish` would upload), installed by name.
 * Needs `npx pnpm@10 build` first (the root build builds this package too).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repeatedNgrams } from './ngrams.js';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../../../', import.meta.url));
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const bin = join(repo, 'packages/cli/dist/bin.js');
const storyModel = join(repo, 'models/story');
const built = existsSync(bin) && existsSync(join(packageDir, 'dist/index.js')) && existsSync(join(repo, 'packages/core/dist/index.js'));
if (!built) console.warn('[plugin-package test] packages/cli/dist or examples/plugin-package/dist is missing (npx pnpm@10 build): the CLI and pack tests are skipped.');

// "Once upon a time" with BOS, in models/story's tokenizer.
const PROMPT_IDS = [1, 878, 876, 264, 395];

/** The environment of a command typed in a shell: no package-manager script variables (weft reads INIT_CWD under one). */
function shellEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key === 'INIT_CWD' || key.startsWith('npm_')) delete env[key];
  return env;
}

interface Weft {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `node packages/cli/dist/bin.js args…` in `cwd`, as typed in a shell there. */
async function weft(args: readonly string[], cwd = repo): Promise<Weft> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { cwd, env: shellEnv(), timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout = '', stderr = '' } = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof code === 'number' ? code : -1, stdout, stderr };
  }
}

/** The ids of `generate --json`'s done line. */
function doneIds(result: Weft): number[] {
  expect(result.code, result.stderr).toBe(0);
  const done = result.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { type: string; ids?: number[] })
    .find((event) => event.type === 'done');
  expect(done?.ids).toBeDefined();
  return done!.ids!;
}

const generate = (...args: string[]) =>
  weft(['generate', '--model', storyModel, '--threads', '1', '--prompt-ids', PROMPT_IDS.join(','), '--max-tokens', '60', '--json', ...args]);

describe.skipIf(!built)('from the weft CLI', () => {
  it('--plugin <folder> --processor no-repeat-ngram:size=3: no 3-gram repeats in prompt + output (greedy output repeats one without it)', async () => {
    const plain = doneIds(await generate());
    expect(plain).toHaveLength(60);
    expect(repeatedNgrams([...PROMPT_IDS, ...plain], 3).length).toBeGreaterThan(0);
    const ids = doneIds(await generate('--plugin', packageDir, '--processor', 'no-repeat-ngram:size=3'));
    expect(ids).toHaveLength(60);
    expect(repeatedNgrams([...PROMPT_IDS, ...ids], 3)).toEqual([]);
    expect(ids).not.toEqual(plain);
    // The relative path of the README's command, and the plugin's options as the defaults.
    expect(doneIds(await generate('--plugin', './examples/plugin-package:size=3', '--processor', 'no-repeat-ngram'))).toEqual(ids);
  });

  it.each([
    ['--processor', 'no-repeat-ngram:size=0', 'weft: --processor: no-repeat-ngram: option "size" must be a whole number >= 1 (got 0). (weft-plugin-no-repeat)'],
    ['--processor', 'no-repeat-ngram:size=three', 'weft: --processor: no-repeat-ngram: option "size" must be a whole number >= 1 (got "three"). (weft-plugin-no-repeat)'],
    ['--processor', 'no-repeat-ngram:scope=prompt', 'weft: --processor: no-repeat-ngram: option "scope" must be "all" or "generated" (got "prompt"). (weft-plugin-no-repeat)'],
    ['--processor', 'no-repeat-ngram:sise=3', 'weft: --processor: no-repeat-ngram: unknown option "sise" (it takes size and scope). (weft-plugin-no-repeat)'],
  ])('%s %s: exit code 2 and one line naming the option', async (flag, value, line) => {
    const result = await generate('--plugin', packageDir, flag, value);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`${line}\n`);
    expect(result.stdout).toBe('');
  });

  it('--plugin <folder>:size=0: exit code 2 and one line naming the flag and the option', async () => {
    const result = await generate('--plugin', `${packageDir}:size=0`, '--processor', 'no-repeat-ngram');
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')).toEqual([expect.stringMatching(/^weft: --plugin .*:size=0: .*no-repeat-ngram: option "size" must be a whole number >= 1 \(got 0\)\.$/), '']);
  });
});

describe.skipIf(!built)('pnpm pack (what npm would serve)', () => {
  let scratch: string;
  let tarball: string;
  let installed: string;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'weft-plugin-no-repeat-'));
    // As scripts/packed-packages.ts packs: offline, from npx's cached pnpm. ignore-scripts skips
    // prepack (which builds dist/ again): the test packs the build it was given.
    const { stdout } = await run('npx', ['--yes', 'pnpm@10', '--filter', './examples/plugin-package', 'pack', '--pack-destination', scratch, '--json'], {
      cwd: repo,
      env: { ...process.env, npm_config_prefer_offline: 'true', npm_config_ignore_scripts: 'true' },
      timeout: 60_000,
    });
    tarball = (JSON.parse(stdout) as { filename: string }).filename;
    // Installed as `npm i weft-plugin-no-repeat` lays it out in an app, beside the app's own @weft/core.
    installed = join(scratch, 'app/node_modules/weft-plugin-no-repeat');
    await mkdir(installed, { recursive: true });
    await run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
    await mkdir(join(scratch, 'app/node_modules/@weft'), { recursive: true });
    await symlink(join(repo, 'packages/core'), join(scratch, 'app/node_modules/@weft/core'), 'dir');
  }, 120_000);
  afterAll(() => rm(scratch, { recursive: true, force: true }));

  it('holds dist/, package.json and README.md only (and the licence pnpm adds)', () => {
    const files = readdirSync(installed, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => relative(installed, join(entry.parentPath, entry.name)).split(sep).join('/'))
      .sort();
    const dist = readdirSync(join(packageDir, 'dist')).filter((file) => /\.(js|d\.ts)$/.test(file)).map((file) => `dist/${file}`);
    // pnpm adds the workspace root's LICENSE to a package that has none of its own.
    expect(files).toEqual([...dist, 'LICENSE', 'README.md', 'package.json'].sort());
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
    expect(files.some((file) => file.startsWith('src/') || file.startsWith('test/') || file.includes('tsbuildinfo'))).toBe(false);
  });

  it('its package.json has the peer range, no workspace: protocol, and entry points that exist', () => {
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({
      name: 'weft-plugin-no-repeat',
      type: 'module',
      files: ['dist'],
      peerDependencies: { '@weft/core': '>=0.1.0 <1.0.0' },
      exports: { '.': { types: './dist/index.d.ts', import: './dist/index.js' } },
    });
    expect(JSON.stringify(manifest)).not.toContain('workspace:');
    expect(manifest).not.toHaveProperty('dependencies');
    for (const path of ['dist/index.js', 'dist/index.d.ts']) expect(existsSync(join(installed, path)), path).toBe(true);
  });

  it('installed under its name, weft --plugin weft-plugin-no-repeat finds it from the app folder', async () => {
    const app = join(scratch, 'app');
    const ids = doneIds(
      await weft(['generate', '--model', storyModel, '--threads', '1', '--plugin', 'weft-plugin-no-repeat', '--processor', 'no-repeat-ngram:size=3', '--prompt-ids', PROMPT_IDS.join(','), '--max-tokens', '60', '--json'], app),
    );
    expect(repeatedNgrams([...PROMPT_IDS, ...ids], 3)).toEqual([]);
    expect(ids).toEqual(doneIds(await generate('--plugin', packageDir, '--processor', 'no-repeat-ngram:size=3')));
  });
});
