import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invocationDir } from '../src/invocation-dir.js';
import { cli, storyModel } from './helpers.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');
const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const built = existsSync(bin);

/** What pnpm (and npm) set for `pnpm weft …` typed in `typedIn`: the script runs in the repository root. */
const scriptEnv = (typedIn: string, event = 'weft') => ({ INIT_CWD: typedIn, npm_package_json: join(repo, 'package.json'), npm_lifecycle_event: event });

describe('the directory relative paths are resolved against', () => {
  const scripts: Record<string, string> = {
    weft: 'node packages/cli/dist/bin.js',
    demo: 'node packages/cli/dist/bin.js demo',
    installed: 'weft generate',
    'with-cd': 'cd sub && node packages/cli/dist/bin.js',
    'with-path': 'node packages/cli/dist/bin.js eval --text-file data/a.txt',
    other: 'node scripts/other.js',
    test: 'pnpm run build && vitest run',
  };
  const dir = (env: NodeJS.ProcessEnv, cwd = repo) => invocationDir(env, cwd, join(repo, 'packages/cli/dist/bin.js'), (_, event) => scripts[event]);

  it('is INIT_CWD when weft is the package script run in the package folder', () => {
    expect(dir(scriptEnv('/home/u/notes'))).toBe('/home/u/notes');
    expect(dir(scriptEnv('/home/u/notes', 'demo'))).toBe('/home/u/notes');
    expect(dir(scriptEnv('/home/u/notes', 'installed'))).toBe('/home/u/notes');
  });

  it('is the working directory otherwise', () => {
    expect(dir({})).toBe(repo); // typed in a shell
    expect(dir({ ...scriptEnv('/home/u'), INIT_CWD: '' })).toBe(repo);
    expect(dir(scriptEnv('/home/u'), '/elsewhere')).toBe('/elsewhere'); // the script (or something it ran) changed directory
    expect(dir(scriptEnv('/home/u', 'with-cd'))).toBe(repo);
    expect(dir(scriptEnv('/home/u', 'with-path'))).toBe(repo); // the script's own paths are relative to the package
    expect(dir(scriptEnv('/home/u', 'other'))).toBe(repo); // weft started by another script's program
    expect(dir(scriptEnv('/home/u', 'test'))).toBe(repo);
    expect(dir(scriptEnv('/home/u', 'missing'))).toBe(repo);
  });
});

describe('relative paths of a command started as `pnpm weft` from a subdirectory', () => {
  let sub: string;
  beforeAll(async () => {
    // A directory of the user's, away from the repository root where the script runs.
    sub = await mkdtemp(join(tmpdir(), 'weft-cli-cwd-'));
    await mkdir(join(sub, 'prompts'));
    await writeFile(join(sub, 'prompts/p.txt'), 'Once upon a time\n');
    await writeFile(join(sub, 'chat.json'), JSON.stringify([{ role: 'user', content: 'Tell me a story.' }]));
    await writeFile(join(sub, 'text.txt'), 'Once upon a time, there was a little girl named Lily. She liked to play in the park.\n');
  });
  afterAll(() => rm(sub, { recursive: true, force: true }));

  it.skipIf(!built)('are read from where the user was (INIT_CWD), not from the repository root', async () => {
    const model = relative(sub, storyModel);
    const run = (...args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, [bin, ...args], { cwd: repo, env: { ...process.env, ...scriptEnv(sub) }, timeout: 30_000 }, (error, stdout, stderr) =>
          resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
        );
      });
    // Before: "cannot read --prompt-file prompts/p.txt: no such file" (looked for in the repository root).
    const prompt = await run('generate', '--model', model, '--threads', '1', '--prompt-file', 'prompts/p.txt', '--max-tokens', '3', '--json');
    expect(prompt.stderr).toBe('');
    expect(prompt.code).toBe(0);
    const messages = await run('generate', '--model', model, '--threads', '1', '--messages-file', 'chat.json', '--max-tokens', '3', '--json');
    expect(messages.code).toBe(0);
    const evaluated = await run('eval', '--model', model, '--threads', '1', '--text-file', 'text.txt', '--json');
    expect(evaluated.code).toBe(0);
    expect(JSON.parse(evaluated.stdout)).toMatchObject({ model: storyModel, documents: 1 });
    // A missing file is named by its full path, so the directory it was looked for in shows.
    const missing = await run('generate', '--model', model, '--prompt-file', 'nope.txt');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(`weft: cannot read --prompt-file ${join(sub, 'nope.txt')}: no such file\n`);
  });

  it('io.cwd does the same for runCli', async () => {
    const result = await cli(['eval', '--model', relative(sub, storyModel), '--threads', '1', '--text-file', 'text.txt', '--json'], { cwd: sub });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ model: storyModel });
  });
});
