import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { holdLine, releaseAllLines } from '../src/output/held-line.js';
import { loadPlugins } from '../src/plugins/load-plugins.js';
import { parsePluginSpec } from '../src/plugins/plugin-spec.js';
import { guardProcess, type GuardedProcess } from '../src/process-guards.js';
import { UsageError } from '../src/index.js';
import { storyModel } from './helpers.js';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const guards = pathToFileURL(fileURLToPath(new URL('../dist/process-guards.js', import.meta.url))).href;
const built = existsSync(bin);
/** util-linux `script`, which runs a command on a pseudo-terminal. */
const hasScript = process.platform === 'linux' && spawnSync('script', ['--version']).status === 0;
const MANIFEST = `name: 'weft-plugin-guarded', version: '1.0.0', apiVersion: '^0.1.0'`;

/** Plugin modules that misbehave outside weft's reach. */
const MODULES: Record<string, string> = {
  'never-imports.mjs': `await new Promise(() => {});\nexport default { ${MANIFEST}, setup() {} };\n`,
  'waits-on-a-timer.mjs': `await new Promise((r) => setTimeout(r, 1e9));\nexport default { ${MANIFEST}, setup() {} };\n`,
  'never-made.mjs': `export default () => new Promise(() => {});\n`,
  'noisy.mjs': `console.log('HELLO FROM THE MODULE');\nexport default { ${MANIFEST}, setup() { process.stdout.write('SETUP NOISE\\n'); } };\n`,
  'unawaited.mjs': `export default { ${MANIFEST}, setup() { Promise.reject(new Error('unawaited boom')); } };\n`,
  'timer-throws.mjs': `export default { ${MANIFEST}, setup() { setTimeout(() => { throw new Error('timer boom'); }, 0); } };\n`,
  'throws-odd.mjs': `export default { ${MANIFEST}, setup() { setTimeout(() => { const e = new Error('x'); e.message = 42; throw e; }, 0); } };\n`,
  'rejects-bare.mjs': `export default { ${MANIFEST}, setup() { Promise.reject(Object.create(null)); } };\n`,
  'keeps-an-interval.mjs': `export default { ${MANIFEST}, setup() { setInterval(() => {}, 1000); } };\n`,
  'loud.mjs': `export default { ${MANIFEST}, setup() { process.stderr.write('x'.repeat(1 << 20)); } };\n`,
  'exits.mjs': `export default { ${MANIFEST}, setup() { process.exit(0); } };\n`,
  'warns.mjs': `export default { ${MANIFEST}, setup(ctx) { let n = 0; ctx.addHooks({ afterForward() { if (++n === 3) console.warn('PLUGIN WARNING'); } }); } };\n`,
  // Fills stderr (which the test does not read), then sends itself SIGINT once the command has returned (its exit code set).
  'signals-when-done.mjs': `export default { ${MANIFEST}, setup() { process.stderr.write('x'.repeat(1 << 20)); const t = setInterval(() => { if (process.exitCode === 0) { clearInterval(t); process.kill(process.pid, 'SIGINT'); } }, 5); t.unref(); } };\n`,
  'hung-backend.mjs': `export default { ${MANIFEST}, setup(ctx) { ctx.register('backend', { name: 'hung', create: () => ({ specificationVersion: 'v1', name: 'hung', probe: () => ({ available: true }), createSession: () => { process.stderr.write('opening\\n'); return new Promise(() => {}); } }) }); } };\n`,
};

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-cli-guards-'));
  for (const [name, text] of Object.entries(MODULES)) await writeFile(join(dir, name), text);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const run = (args: readonly string[], file = bin) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [file, ...args], { cwd: dir, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr }),
    );
  });

describe('--plugin modules that never finish loading', () => {
  const load = (spec: string) => loadPlugins([parsePluginSpec(spec)], dir, undefined, 300);

  it('is a usage error naming the module when its import does not finish in time (an await that never settles, or a long timer)', async () => {
    for (const module of ['never-imports.mjs', 'waits-on-a-timer.mjs']) {
      const error = await load(`./${module}`).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UsageError);
      expect((error as Error).message).toMatch(new RegExp(`^--plugin \\./${module.replace('.', '\\.')}: importing .*${module.replace('.', '\\.')} did not finish within 300 ms: its top-level code waits for something that does not come`));
    }
  });

  it('is a usage error when its factory returns a promise that never settles', async () => {
    const error = await load('./never-made.mjs').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(/^--plugin \.\/never-made\.mjs: the default export of .*never-made\.mjs \(a function, called to make the plugin\) did not return a plugin within 300 ms/);
  });
});

/** A stand-in for `process`, recording what the guard does. */
function fakeProcess(options: { readonly stderrTty?: boolean } = {}) {
  const written = { stdout: [] as string[], stderr: [] as string[] };
  const listeners = new Map<string, ((error?: unknown) => void)[]>();
  const exits: number[] = [];
  const proc = {
    stdout: { write: (chunk: string) => written.stdout.push(chunk) },
    stderr: { ...(options.stderrTty === undefined ? {} : { isTTY: options.stderrTty }), write: (chunk: string) => written.stderr.push(chunk) },
    env: {},
    exitCode: undefined as number | undefined,
    on(event: string, listener: (error?: unknown) => void) {
      listeners.set(event, [...(listeners.get(event) ?? []), listener]);
      return proc;
    },
    exit(code: number): never {
      exits.push(code);
      return undefined as never;
    },
  };
  const emit = (event: string, error?: unknown) => listeners.get(event)?.forEach((l) => l(error));
  return { proc: proc as GuardedProcess & { exitCode: number | undefined }, written, emit, exits };
}

describe('guardProcess', () => {
  it('sends what others write to stdout to stderr, and keeps a writer of its own for stdout', () => {
    const { proc, written } = fakeProcess();
    const guard = guardProcess(proc);
    (proc.stdout as unknown as { write(chunk: string): unknown }).write('a plugin says hi\n');
    guard.stdout('{"type":"done"}\n');
    expect(written).toEqual({ stdout: ['{"type":"done"}\n'], stderr: ['a plugin says hi\n'] });
  });

  it('ends the held line before what others write to stderr (console.warn, Node warnings); its own stderr writer does not', () => {
    const { proc, written } = fakeProcess({ stderrTty: true });
    const guard = guardProcess(proc);
    try {
      holdLine(() => written.stderr.push('<end>'));
      (proc.stderr as unknown as { write(chunk: string): unknown }).write('a warning\n');
      (proc.stderr as unknown as { write(chunk: string): unknown }).write('another\n');
      expect(written.stderr).toEqual(['<end>', 'a warning\n', 'another\n']);
      // The held line's owners write with the original writer: drawing it does not end it.
      written.stderr.length = 0;
      holdLine(() => written.stderr.push('<end>'));
      guard.stderr('\rprogress');
      expect(written.stderr).toEqual(['\rprogress']);
      // stdout's redirect ends it too, and is written once.
      (proc.stdout as unknown as { write(chunk: string): unknown }).write('a plugin says hi\n');
      expect(written.stderr).toEqual(['\rprogress', '<end>', 'a plugin says hi\n']);
    } finally {
      releaseAllLines();
    }
  });

  it('leaves the held line alone when stderr is not a terminal: what others write there does not land on it (review 30)', () => {
    const { proc, written } = fakeProcess({ stderrTty: false });
    guardProcess(proc);
    const ended: string[] = [];
    try {
      holdLine(() => ended.push('<end>'));
      (proc.stderr as unknown as { write(chunk: string): unknown }).write('a warning\n');
      (proc.stdout as unknown as { write(chunk: string): unknown }).write('a plugin says hi\n');
      expect(ended).toEqual([]);
      expect(written.stderr).toEqual(['a warning\n', 'a plugin says hi\n']);
    } finally {
      releaseAllLines();
    }
  });

  it("says so when others' process.exit() comes after the command finished but before its output was written out (review 30)", () => {
    const cut = fakeProcess();
    const guard = guardProcess(cut.proc);
    guard.finished();
    cut.proc.exitCode = 0;
    cut.proc.exit(0);
    cut.emit('exit');
    expect(cut.written.stderr).toEqual(['weft: stopped: process.exit() was called before the output was written out (by a --plugin?)\n']);
    expect(cut.proc.exitCode).toBe(1);
    // Once written out, an exit (bin's own timer, or anyone's) is no news.
    const whole = fakeProcess();
    const after = guardProcess(whole.proc);
    after.finished();
    after.drained();
    whole.proc.exitCode = 0;
    whole.proc.exit(0);
    whole.emit('exit');
    expect(whole.written.stderr).toEqual([]);
    expect(whole.proc.exitCode).toBe(0);
  });

  it('says so when the process exits before the command finished, and makes a 0 a 1; not for its own exits, nor once the command finished', () => {
    for (const code of [undefined, 0]) {
      const early = fakeProcess();
      guardProcess(early.proc);
      early.proc.exitCode = code;
      early.emit('exit');
      expect(early.written.stderr).toEqual(['weft: stopped: process.exit() was called before the command finished (by a --plugin?)\n']);
      expect(early.proc.exitCode).toBe(1);
    }
    const failing = fakeProcess();
    guardProcess(failing.proc);
    failing.proc.exitCode = 3;
    failing.emit('exit');
    expect(failing.written.stderr).toHaveLength(1);
    expect(failing.proc.exitCode).toBe(3);

    const own = fakeProcess();
    guardProcess(own.proc).exit(0);
    own.proc.exitCode = 0;
    own.emit('exit');
    expect(own.exits).toEqual([0]);
    expect(own.written.stderr).toEqual([]);
    expect(own.proc.exitCode).toBe(0);

    const finished = fakeProcess();
    guardProcess(finished.proc).finished();
    finished.proc.exitCode = 0;
    finished.emit('exit');
    expect(finished.written.stderr).toEqual([]);
    expect(finished.proc.exitCode).toBe(0);
  });

  it('reports an error thrown or rejected outside the command on one line, and exits 1', () => {
    for (const event of ['unhandledRejection', 'uncaughtException']) {
      const { proc, written, emit, exits } = fakeProcess();
      guardProcess(proc);
      emit(event, new Error('boom\n  on two lines'));
      expect(written.stderr).toEqual(["weft: an error escaped the command (thrown outside it, e.g. by a plugin's timer or unawaited promise): boom on two lines\n"]);
      expect(exits).toEqual([1]);
    }
  });

  it('says why when the process ends with the command still waiting (code 13), and exits 1; not once the command finished', () => {
    const waiting = fakeProcess();
    guardProcess(waiting.proc);
    waiting.proc.exitCode = 13;
    waiting.emit('exit');
    expect(waiting.written.stderr).toEqual(['weft: stopped: the command was waiting for something that can never happen (a --plugin whose code awaits a promise nothing settles?)\n']);
    expect(waiting.proc.exitCode).toBe(1);

    const finished = fakeProcess();
    guardProcess(finished.proc).finished();
    finished.proc.exitCode = 13;
    finished.emit('exit');
    expect(finished.written.stderr).toEqual([]);
    expect(finished.proc.exitCode).toBe(13);
  });
});

describe.skipIf(!built)('the weft bin with plugins that misbehave outside weft', () => {
  const generate = (plugin: string) => run(['generate', '--model', storyModel, '--threads', '1', '--prompt-ids', '1,2', '--max-tokens', '2', '--json', '--plugin', plugin]);

  it('keeps --json stdout parseable when a plugin prints to stdout (the noise goes to stderr)', async () => {
    const result = await generate('./noisy.mjs');
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('HELLO FROM THE MODULE\nSETUP NOISE\n');
    const records = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string });
    expect(records.at(-1)).toMatchObject({ type: 'done' });
  });

  it('reports an unawaited rejection or a throwing timer in a plugin on one line, exit code 1 (was: a Node crash report)', async () => {
    for (const [plugin, message] of [['./unawaited.mjs', 'unawaited boom'], ['./timer-throws.mjs', 'timer boom']] as const) {
      const result = await generate(plugin);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(`weft: an error escaped the command (thrown outside it, e.g. by a plugin's timer or unawaited promise): ${message}\n`);
    }
  });

  it('reports what it cannot describe normally (a message that is not a string, an object without a prototype) still on one line', async () => {
    const odd = await generate('./throws-odd.mjs');
    expect(odd.code).toBe(1);
    expect(odd.stderr).toMatch(/^weft: an error escaped the command \(thrown outside it, e\.g\. by a plugin's timer or unawaited promise\): [^\n]*\n$/);
    const bare = await generate('./rejects-bare.mjs');
    expect(bare.code).toBe(1);
    expect(bare.stderr).toMatch(/^weft: an error escaped the command \(thrown outside it, e\.g\. by a plugin's timer or unawaited promise\): [^\n]*\n$/);
    expect(bare.stderr).not.toMatch(/Cannot convert object to primitive value/);
  });

  it("reports a plugin's process.exit(0) before the command finished, exit code 1 (was: 0 and nothing said)", async () => {
    const result = await generate('./exits.mjs');
    expect(result).toEqual({ code: 1, stdout: '', stderr: 'weft: stopped: process.exit() was called before the command finished (by a --plugin?)\n' });
  });

  it('a signal while the output is still draining exits with the signal\'s code, not the command\'s 0', async () => {
    const child = spawn(process.execPath, [bin, 'generate', '--model', storyModel, '--threads', '1', '--prompt-ids', '1,2', '--max-tokens', '2', '--plugin', './signals-when-done.mjs'], { cwd: dir });
    child.stderr.pause();
    child.stdout.resume();
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    child.stderr.resume();
    expect(code).toBe(130);
  });

  it.skipIf(!hasScript)('on a terminal, a plugin\'s console.warn during generation starts on a line of its own (the streamed text\'s open line is ended first)', async () => {
    const command = [process.execPath, bin, 'generate', '--model', storyModel, '--threads', '1', '--prompt', 'Once upon a time', '--max-tokens', '6', '--plugin', './warns.mjs'];
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn('script', ['-qec', command.map((a) => JSON.stringify(a)).join(' '), '/dev/null'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 });
      let text = '';
      child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
      child.on('error', reject);
      child.on('close', () => resolve(text.replace(/\r\n/g, '\n')));
    });
    expect(output).toContain('PLUGIN WARNING\n');
    // Before: the text so far and the warning on one line ("… upon a time, thePLUGIN WARNING").
    expect(output).toMatch(/(^|\n)PLUGIN WARNING\n/);
  });

  it('ends once the command is done, though a plugin keeps an interval running', async () => {
    // Before: the output came, then the process ran on (until a second signal).
    const result = await generate('./keeps-an-interval.mjs');
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n').at(-1)).toMatch(/^\{"type":"done"/);
  });

  it('lets a slow reader have all of stderr before the process ends (the forced exit waits for it to drain)', async () => {
    // Before: the exit came 100 ms after stdout drained, dropping what was still queued for stderr (64 KiB of 1 MiB arrived).
    const child = spawn(process.execPath, [bin, 'generate', '--model', storyModel, '--threads', '1', '--prompt-ids', '1,2', '--max-tokens', '2', '--plugin', './loud.mjs'], { cwd: dir });
    child.stderr.pause();
    let bytes = 0;
    child.stdout.resume();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    child.stderr.on('data', (chunk: Buffer) => (bytes += chunk.length));
    child.stderr.resume();
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(code).toBe(0);
    expect(bytes).toBeGreaterThanOrEqual(1 << 20);
  });

  it('stops a model load that waits for a session that never opens at the first Ctrl-C', async () => {
    const child = execFile(process.execPath, [bin, 'generate', '--model', storyModel, '--plugin', './hung-backend.mjs', '--backend', 'hung', '--prompt-ids', '1,2'], { cwd: dir, timeout: 30_000 });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('opening\n')) child.kill('SIGINT');
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(130);
    expect(stderr).toBe('opening\nweft: interrupted\n');
  });

  it('says why a process left waiting for ever stops, instead of exiting silently with code 13', async () => {
    const script = join(dir, 'waits-for-ever.mjs');
    await writeFile(script, `import { guardProcess } from ${JSON.stringify(guards)};\nguardProcess(process);\nawait new Promise(() => {});\n`);
    const result = await run([], script);
    expect(result).toEqual({ code: 1, stdout: '', stderr: 'weft: stopped: the command was waiting for something that can never happen (a --plugin whose code awaits a promise nothing settles?)\n' });
  });
});
