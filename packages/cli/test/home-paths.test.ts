import { mkdtempSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseBenchArgs } from '../src/args/bench-args.js';
import { parseDemoArgs } from '../src/args/demo-args.js';
import { parseEvalArgs } from '../src/args/eval-args.js';
import { parseGenerateArgs } from '../src/args/generate-args.js';
import { expandHome } from '../src/args/home-path.js';
import { UsageError } from '../src/index.js';
import { cli, storyModel } from './helpers.js';

describe('expandHome', () => {
  const home = () => '/home/ann';

  it('expands a leading ~ and ~/ and leaves every other value as it is', () => {
    expect(expandHome('~', '--model', home, 'linux')).toBe('/home/ann');
    expect(expandHome('~/', '--model', home, 'linux')).toBe('/home/ann/');
    expect(expandHome('~/models/story', '--model', home, 'linux')).toBe('/home/ann/models/story');
    expect(expandHome('~/x', '--model', () => '/', 'linux')).toBe('/x');
    expect(expandHome('~/x', '--model', () => '/home/ann/', 'linux')).toBe('/home/ann/x');
    for (const value of ['-', 'models/story', '/abs/~/x', 'a/~/b', './~bob', 'https://example.com/~/story', 'file:///tmp/story', '']) {
      expect(expandHome(value, '--model', home, 'linux'), value).toBe(value);
    }
  });

  it('takes ~\\ on Windows only', () => {
    expect(expandHome('~\\models\\story', '--model', () => 'C:\\Users\\ann', 'win32')).toBe('C:\\Users\\ann\\models\\story');
    expect(expandHome('~/models', '--model', () => 'C:\\Users\\ann\\', 'win32')).toBe('C:\\Users\\ann\\models');
    expect(expandHome('~\\models', '--model', home, 'linux')).toBe('~\\models');
  });

  it('leaves ~NAME as it is: a name that starts with ~', () => {
    expect(expandHome('~bob/models', '--model', home, 'linux')).toBe('~bob/models');
    expect(expandHome('~draft.txt', '--prompt-file', home, 'win32')).toBe('~draft.txt');
    expect(expandHome('~$doc.txt', '--text-file', home, 'linux')).toBe('~$doc.txt');
  });

  it('is a usage error when the home directory is unknown', () => {
    const missing = () => {
      throw new Error('ENOENT');
    };
    expect(() => expandHome('~/x', '--text-file', missing)).toThrow(new UsageError('--text-file ~/x: cannot expand ~, the home directory is unknown (ENOENT); write the full path'));
    expect(() => expandHome('~/x', '--text-file', () => '')).toThrow(UsageError);
  });
});

describe('path flags with a leading ~ (as in --model=~/x, which no shell expands)', () => {
  let home: string;
  let elsewhere: string;
  const at = (path: string) => join(home, path);
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'weft-cli-home-'));
    elsewhere = await mkdtemp(join(tmpdir(), 'weft-cli-cwd-'));
    await symlink(storyModel, at('story'), 'junction');
    await writeFile(at('prompt.txt'), 'Once upon a time\n');
    await writeFile(at('chat.json'), JSON.stringify([{ role: 'user', content: 'Tell me a story.' }]));
    await writeFile(at('text.txt'), 'Once upon a time, there was a little girl named Lily. She liked to play in the park.\n');
  });
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
    await rm(elsewhere, { recursive: true, force: true });
  });
  // os.homedir() reads HOME (USERPROFILE on Windows).
  beforeEach(() => {
    vi.stubEnv('HOME', home);
    vi.stubEnv('USERPROFILE', home);
  });
  afterEach(() => void vi.unstubAllEnvs());

  it('are the home directory in every command\'s parsed flags', () => {
    expect(parseGenerateArgs(['--model=~/story', '--prompt-file=~/prompt.txt'])).toMatchObject({ model: at('story'), promptFile: { flag: '--prompt-file', path: at('prompt.txt') } });
    expect(parseGenerateArgs(['--model', '~', '--messages-file', '~/chat.json'])).toMatchObject({ model: home, promptFile: { flag: '--messages-file', path: at('chat.json') } });
    expect(parseEvalArgs(['--model=~/story', '--text-file=~/text.txt'])).toMatchObject({ model: at('story'), textFile: at('text.txt') });
    expect(parseDemoArgs(['--model=~/story']).model).toBe(at('story'));
    expect(parseBenchArgs(['--model=~/story']).model).toBe(at('story'));
    // Standard input and URLs are not paths.
    expect(parseGenerateArgs(['--prompt-file', '-']).promptFile).toEqual({ flag: '--prompt-file', path: '-' });
    expect(parseEvalArgs(['--text-file', '-']).textFile).toBe('-');
    expect(parseDemoArgs(['--model', 'https://example.com/~/story']).model).toBe('https://example.com/~/story');
  });

  it('generate reads --model, --prompt-file and --messages-file from the home directory, wherever it runs', async () => {
    const base = ['generate', '--model=~/story', '--threads', '1', '--max-tokens', '3', '--json'];
    const prompt = await cli([...base, '--prompt-file=~/prompt.txt'], { cwd: elsewhere });
    expect(prompt.stderr).toBe('');
    expect(prompt.code).toBe(0);
    const direct = await cli(['generate', '--model', storyModel, '--threads', '1', '--max-tokens', '3', '--json', '--prompt', 'Once upon a time']);
    expect(prompt.json().at(-1)!['ids']).toEqual(direct.json().at(-1)!['ids']);
    const messages = await cli([...base, '--messages-file=~/chat.json']);
    expect(messages.stderr).toBe('');
    expect(messages.code).toBe(0);
    // Before: "cannot read --prompt-file ~/missing.txt" (a folder named ~ in the working directory).
    const missing = await cli(['generate', '--model=~/story', '--prompt-file=~/missing.txt'], { cwd: elsewhere });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(`weft: cannot read --prompt-file ${at('missing.txt')}: no such file\n`);
  });

  it('eval reads --model and --text-file from the home directory', async () => {
    const result = await cli(['eval', '--model=~/story', '--threads', '1', '--text-file=~/text.txt', '--json'], { cwd: elsewhere });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ model: at('story'), documents: 1 });
  });

  it('demo and bench load --model from the home directory', async () => {
    const demo = await cli(['demo', '--model=~/story', '--threads', '1', '--max-tokens', '2', '--seed', '1'], { cwd: elsewhere });
    expect(demo.stderr).toMatch(/^\[2 tokens, .* seed 1\n$/);
    expect(demo.code).toBe(0);
    const bench = await cli(['bench', '--model=~/story', '--tokens', '2', '--prompt-tokens', '2', '--runs', '2', '--warmup', '0', '--json'], { cwd: elsewhere });
    expect(bench.stderr).toBe('');
    expect(bench.code).toBe(0);
  });

  it('reads ~NAME as a path relative to where the command was typed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-tilde-name-'));
    writeFileSync(join(dir, '~draft.txt'), 'Once upon a time');
    const read = await cli(['generate', '--prompt-file=~draft.txt', '--max-tokens', '1', '--json'], { cwd: dir });
    expect(read.code, read.stderr).toBe(0);
    const missing = await cli(['generate', '--model=~bob/story', '--prompt', 'x'], { cwd: dir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(join(dir, '~bob/story'));
  });
});
