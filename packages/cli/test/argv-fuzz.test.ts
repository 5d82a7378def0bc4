/**
 * Command-line fuzzing: seeded random command lines from the real flags of `generate`, `eval`,
 * `bench` and `demo` (their option tables in src/args), with good values, wrong ones, `=` forms,
 * missing values, repeated and unknown flags, unicode and very long values, run in-process
 * through `runCli` on models/story with tiny token counts (argv-fuzz-lines.ts makes them). Some
 * are interrupted (as Ctrl-C would) once they have written to stdout.
 *
 * A case passes when the exit code is 0, 2 or 130 (1, an unexpected error, fails it); a failure
 * prints exactly one line on stderr, starting `weft: `, with no stack trace and nothing shown as
 * "undefined" or "[object Object]"; with `--json`, every stdout line parses (generate: the
 * backend line first, the done line last); help goes to stdout; and no rejection goes unhandled.
 * Command lines over the 16 KiB guard are also run through the built `bin.js` (when there is one),
 * which must refuse them with exit code 2 and one line. Reproduce a failure with its seed:
 *
 *   WEFT_ARGV_FUZZ_SEEDS=17,305 npx vitest run packages/cli/test/argv-fuzz.test.ts
 *
 * Environment: WEFT_ARGV_FUZZ_CASES (default 400: seeds 1…N, fixed so CI is deterministic),
 * WEFT_ARGV_FUZZ_FIRST (the first seed, default 1), WEFT_ARGV_FUZZ_SEEDS (a comma-separated list
 * instead), WEFT_ARGV_FUZZ_VERBOSE=1 (print every case and its outcome).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARGV_BYTE_LIMIT, commandLineBytes, commandLineTooLong } from '../src/argv-limit.js';
import { MAIN_USAGE } from '../src/usage.js';
import { cli, storyModel, type CliResult } from './helpers.js';
import { COMMAND_FLAGS, makeCommandLine, type CommandLine, type Scratch } from './argv-fuzz-lines.js';

const env = process.env;
const FIRST = Number(env['WEFT_ARGV_FUZZ_FIRST'] ?? 1);
const SEEDS: readonly number[] = env['WEFT_ARGV_FUZZ_SEEDS']
  ? env['WEFT_ARGV_FUZZ_SEEDS'].split(',').map((s) => Number(s.trim()))
  : Array.from({ length: Number(env['WEFT_ARGV_FUZZ_CASES'] ?? 400) }, (_, i) => FIRST + i);
const VERBOSE = env['WEFT_ARGV_FUZZ_VERBOSE'] === '1';
/** Hang detection, far above the second or so a case takes. */
const CASE_TIMEOUT_MS = 60_000;
/** Command lines over the guard run through bin.js at most this many times (a process each). */
const MAX_SPAWNS = 4;
const binJs = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

const PLUGIN = `
export default {
  name: 'weft-argv-fuzz', version: '1.0.0', apiVersion: '^0.1.0',
  setup(ctx) {
    ctx.register('logits-processor', { name: 'fuzz-ban', create: (o = {}) => ({ name: 'fuzz-ban', process: (l) => void (l[Number.isInteger(o.id) ? o.id : 5] = -Infinity) }) });
    ctx.register('sampler', { name: 'fuzz-first', create: () => ({ name: 'fuzz-first', sample: (l) => { let b = 0; for (let i = 1; i < l.length; i++) if (l[i] > l[b]) b = i; return b; } }) });
    ctx.register('analyzer', { name: 'fuzz-top', create: () => ({ name: 'fuzz-top', observe: ({ step }) => ({ step }) }) });
  },
};
`;

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);

/** Why a finished case is wrong, or undefined. */
function verdict(line: CommandLine, result: CliResult): string | undefined {
  const { code, stdout, stderr } = result;
  // `weft` alone prints the overview on stderr and exits 2, as tested in args.test.ts (the one
  // failure that is not one line: it is the answer to a missing command, not an error message).
  if (line.argv.length === 0) return code === 2 && stderr === MAIN_USAGE && stdout === '' ? undefined : `weft alone: exit code ${code}, stderr ${JSON.stringify(stderr.slice(0, 200))}`;
  if (![0, 2, 130].includes(code)) return `exit code ${code}; stderr: ${JSON.stringify(stderr.slice(0, 600))}`;
  if (code === 2 || (code === 130 && stderr.startsWith('weft: '))) {
    if (!stderr.startsWith('weft: ')) return `stderr does not start with "weft: ": ${JSON.stringify(stderr.slice(0, 300))}`;
    if (!stderr.endsWith('\n') || stderr.indexOf('\n') !== stderr.length - 1) return `stderr is not one line: ${JSON.stringify(stderr.slice(0, 600))}`;
    if (/^\s+at /m.test(stderr) || /\bat .*:\d+:\d+\)?$/m.test(stderr)) return `stderr holds a stack trace: ${JSON.stringify(stderr.slice(0, 600))}`;
    if (/\bundefined\b/.test(stderr.replace(/\b[Rr]eturn(s|ed)? undefined\b/g, ''))) return `stderr says "undefined": ${JSON.stringify(stderr.slice(0, 300))}`;
    if (/\[object \w+\]/.test(stderr)) return `stderr says "[object …]": ${JSON.stringify(stderr.slice(0, 300))}`;
    if (stderr.length > 4000) return `stderr is ${stderr.length} characters long`;
  }
  const command = line.argv[0];
  const help = line.argv.some((a) => a === '--help' || a === '-h') || command === 'help';
  if (code === 0 && help && !stdout.startsWith('Usage: ')) return `help exited 0 without usage on stdout: ${JSON.stringify(stdout.slice(0, 200))}`;
  if (line.argv.includes('--json') && !help && code !== 2 && stdout !== '') {
    const lines = stdout.split('\n').filter((l) => l !== '');
    for (const l of lines) {
      try {
        JSON.parse(l);
      } catch {
        return `--json stdout line does not parse: ${JSON.stringify(l.slice(0, 200))}`;
      }
    }
    if (command === 'generate') {
      const types = lines.map((l) => (JSON.parse(l) as { type?: unknown }).type);
      if (types[0] !== 'backend') return `generate --json starts with ${String(types[0])}, not backend`;
      if (code === 0 && types.at(-1) !== 'done') return `generate --json ends with ${String(types.at(-1))}, not done`;
    } else if (code === 0 && lines.length !== 1) return `${command} --json printed ${lines.length} lines, not one object`;
  }
  return undefined;
}

/** Runs `line` in-process, interrupted after its first stdout write when it says so. */
async function run(line: CommandLine, cwd: string): Promise<CliResult | 'hang'> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<'hang'>((resolve) => (timer = setTimeout(() => resolve('hang'), CASE_TIMEOUT_MS)));
  try {
    return await Promise.race([
      cli(line.argv, { stdin: line.stdin, cwd, tty: line.tty, signal: controller.signal, ...(line.interrupt ? { onStdout: () => controller.abort() } : {}) }),
      hang,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Why bin.js handled an over-long command line wrongly, or undefined. */
function overGuard(argv: readonly string[]): string | undefined {
  const child = spawnSync(process.execPath, [binJs, ...argv], { encoding: 'utf8', timeout: 30_000, input: '' });
  if (child.status !== 2) return `bin.js exited ${child.status} (signal ${child.signal}) on a ${commandLineBytes(argv)}-byte command line; stderr ${JSON.stringify(child.stderr.slice(0, 300))}`;
  if (!/^weft: the command line is \d+ bytes, over the limit of \d+ .*\n$/.test(child.stderr) || child.stderr.split('\n').length !== 2) return `bin.js stderr ${JSON.stringify(child.stderr.slice(0, 300))}`;
  if (child.stdout !== '') return `bin.js wrote to stdout: ${JSON.stringify(child.stdout.slice(0, 200))}`;
  return undefined;
}

describe('command-line fuzzing', () => {
  let scratch: Scratch;
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'weft-argv-fuzz-'));
    const dir = join(root, 'a folder');
    await mkdir(dir);
    scratch = {
      model: storyModel,
      text: join(root, 'story.txt'),
      emptyFile: join(root, 'empty.txt'),
      latin1: join(root, 'latin1.txt'),
      messages: join(root, 'messages.json'),
      dir,
      plugin: join(root, 'fuzz-plugin.mjs'),
      throwingPlugin: join(root, 'throwing-plugin.mjs'),
      notAPlugin: join(root, 'not-a-plugin.mjs'),
    };
    await writeFile(scratch.text, 'Once upon a time, there was a little fox.\n\nTom had a red ball. He liked to play.\n');
    await writeFile(scratch.emptyFile, '');
    await writeFile(scratch.latin1, Uint8Array.of(0x63, 0x61, 0x66, 0xe9, 0x0a));
    await writeFile(scratch.messages, '[{"role":"user","content":"Tell me about a cat."}]');
    await writeFile(scratch.plugin, PLUGIN);
    await writeFile(scratch.throwingPlugin, `export default { name: 'weft-argv-fuzz-throws', version: '1.0.0', apiVersion: '^0.1.0', setup() { throw new Error('setup failed on purpose'); } };\n`);
    await writeFile(scratch.notAPlugin, 'export const nothing = 1;\n');
    process.on('unhandledRejection', onUnhandled);
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await rm(root, { recursive: true, force: true });
  });

  it('has values for every flag of every command', () => {
    for (const [command, flags] of Object.entries(COMMAND_FLAGS)) {
      expect(flags.length, command).toBeGreaterThan(1);
      // Throws, naming the flag, when flagValues misses one.
      for (let seed = 1; seed <= 300; seed++) makeCommandLine(seed, scratch);
    }
  });

  it(
    `${SEEDS.length} seeded command lines exit 0, 2 or 130 with one clean error line, and --json output parses`,
    async () => {
      const failures: string[] = [];
      const codes = new Map<string, number>();
      let spawns = 0;
      for (const seed of SEEDS) {
        const line = makeCommandLine(seed, scratch);
        const shown = JSON.stringify(line.argv.map((a) => (a.length > 80 ? `${a.slice(0, 40)}…(${a.length} chars)` : a)));
        unhandled.length = 0;
        const result = await run(line, root);
        await new Promise((resolve) => setTimeout(resolve, 0));
        const problems: string[] = [];
        if (result === 'hang') problems.push(`hang: no exit within ${CASE_TIMEOUT_MS / 1000} s`);
        else {
          const why = verdict(line, result);
          if (why) problems.push(why);
          const key = `${line.argv[0] === undefined ? '(none)' : JSON.stringify(line.argv[0].slice(0, 12))} ${result.code}`;
          codes.set(key, (codes.get(key) ?? 0) + 1);
        }
        if (unhandled.length > 0) problems.push(`unhandled rejection: ${unhandled.map(String).join(' | ').slice(0, 300)}`);
        // The real process refuses a command line over the guard before loading anything.
        const whole = [process.execPath, binJs, ...line.argv];
        if (commandLineBytes(whole) > ARGV_BYTE_LIMIT) {
          const reason = commandLineTooLong(whole);
          if (reason === undefined || reason.includes('\n')) problems.push(`commandLineTooLong gave ${JSON.stringify(reason)}`);
          if (existsSync(binJs) && spawns < MAX_SPAWNS) {
            spawns++;
            const why = overGuard(line.argv);
            if (why) problems.push(why);
          }
        }
        if (VERBOSE) console.log(`seed ${seed}: weft ${shown}\n  → ${result === 'hang' ? 'hang' : `${result.code} ${JSON.stringify((result.code === 0 ? result.stdout : result.stderr).slice(0, 200))}`}${problems.length ? `\n  ✗ ${problems.join('; ')}` : ''}`);
        if (problems.length > 0) failures.push(`seed ${seed}: weft ${shown}${line.interrupt ? ' (interrupted after its first output)' : ''}${line.tty ? ' (stdout a terminal)' : ''}\n  ✗ ${problems.join('\n    ')}`);
      }
      console.log(`[argv-fuzz] ${SEEDS.length} command lines: ${[...codes].sort().map(([k, n]) => `${k}: ${n}`).join(', ')}; ${spawns} run through bin.js; ${failures.length} failed`);
      expect(failures, `reproduce with WEFT_ARGV_FUZZ_SEEDS=<seed> npx vitest run packages/cli/test/argv-fuzz.test.ts\n${failures.join('\n')}`).toEqual([]);
    },
    SEEDS.length * 10_000 + 2 * CASE_TIMEOUT_MS,
  );
});
