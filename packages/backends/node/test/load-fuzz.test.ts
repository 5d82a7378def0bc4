/**
 * Load fuzzing: corrupt copies of models/story, each loaded (and, where it loads, asked for 2
 * tokens) in a child process of its own, because onnxruntime is native code: a malformed graph
 * could crash the process, abort, hang or allocate without bound, none of which a try/catch sees.
 *
 * A case passes when its child exits normally having printed either a successful run or a typed
 * Weft error (ModelLoadError, InvalidOptionsError, BackendError, ContextOverflowError) whose
 * message, for a load, names a file of the folder; with no onnxruntime session left open and no
 * unhandled rejection. Anything else (a signal, a timeout, a plain TypeError, a message naming
 * nothing) fails the test with the seed and mutation, so the case can be made again:
 *
 *   WEFT_FUZZ_SEEDS=17,305 npx vitest run packages/backends/node/test/load-fuzz.test.ts
 *
 * Environment: WEFT_FUZZ_CASES (default 64: seeds 1…N, fixed so CI is deterministic),
 * WEFT_FUZZ_SEEDS (a comma-separated list instead), WEFT_FUZZ_JOBS (children at once, default 2),
 * WEFT_FUZZ_KEEP=1 (keep the case folders, under the OS temp dir), WEFT_FUZZ_REPORT=file.json
 * (every case's outcome), WEFT_FUZZ_MEMORY_MB (the children's memory cap, default 2048).
 *
 * The child (`fuzz/load-case.mjs`) runs the built packages (`dist/`), as plain Node cannot run
 * the TypeScript sources: `npx pnpm@10 test` builds first; after changing core's or this
 * package's src, rebuild them (`npx tsc -p packages/core/tsconfig.json`, then this package's).
 * Memory: `--max-old-space-size` bounds the JavaScript heap and `ulimit -d` (through bash, where
 * there is one) the native allocations, so a tensor claiming 2^40 elements fails to allocate
 * instead of taking the machine's memory. Not `ulimit -v`: that counts address space V8 only
 * reserves, and Node's fetch (undici's WebAssembly HTTP parser) then fails to start; Linux counts
 * writable private memory, what a huge tensor takes, in the data limit.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRAPH, mutate, Rng, type ModelFiles, type Mutation } from './fuzz/mutations.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '../../../..');
const storyModel = join(repo, 'models/story');
const runner = join(here, 'fuzz/load-case.mjs');
const FILES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', GRAPH];

const env = process.env;
const SEEDS: readonly number[] = env['WEFT_FUZZ_SEEDS']
  ? env['WEFT_FUZZ_SEEDS'].split(',').map((s) => Number(s.trim()))
  : Array.from({ length: Number(env['WEFT_FUZZ_CASES'] ?? 64) }, (_, i) => i + 1);
const JOBS = Math.max(1, Number(env['WEFT_FUZZ_JOBS'] ?? 2));
const MEMORY_MB = Number(env['WEFT_FUZZ_MEMORY_MB'] ?? 2048);
/** Hang detection, far above the ~0.5 s a case takes. */
const CASE_TIMEOUT_MS = 60_000;

/** The errors a corrupt folder may end in. */
const TYPED = new Set(['ModelLoadError', 'InvalidOptionsError', 'BackendError', 'ContextOverflowError']);
/**
 * Crashes Weft cannot prevent, documented in docs/backends.md (node section, "Known limit"): a
 * case that ends exactly so is counted as a known limit, not a failure. Each names the mutation
 * kinds it may come from, the signal and what the child printed.
 */
const KNOWN_LIMITS: readonly { readonly what: string; readonly kinds: readonly string[]; readonly signal: NodeJS.Signals; readonly stderr: RegExp }[] = [
  {
    what: 'a graph output too large for the memory left aborts the process: onnxruntime-node copies each output into a new ArrayBuffer, and V8 treats a failed allocation as fatal',
    kinds: ['onnx.huge-output'],
    signal: 'SIGABRT',
    stderr: /ArrayBuffer::New Allocation failed - process out of memory[\s\S]*OrtValueToNapiValue/,
  },
];

/** A load error names one of the folder's files (its message, not only its `path`). */
const FOLDER_FILES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.onnx', 'chat_template.jinja'];

interface ChildError {
  name: string;
  code?: string;
  weft: boolean;
  message: string;
  path?: string;
  cause?: string;
  stack?: string;
}
interface ChildResult {
  outcome: 'ok' | 'error';
  phase: 'load' | 'generate' | 'chat' | 'done';
  error?: ChildError;
  disposeError?: ChildError;
  openSessions: number;
  sessionsOpened: number;
  unhandled: ChildError[];
}
interface CaseRun {
  seed: number;
  mutation: Mutation;
  http: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  result: ChildResult | undefined;
  stderr: string;
  /** Wall time of the child, for the report (nothing asserts on it). */
  ms: number;
}

/** Whether a seed loads over HTTP (a local server in the child) instead of from disk. */
function overHttp(seed: number, mutation: Mutation): boolean {
  // Special files (pipes, devices) are the disk reader's business; the test server answers 404.
  if (mutation.kind === 'files.fifo' || mutation.kind === 'files.device') return false;
  return new Rng(seed ^ 0x5bd1e995).next() < 0.2;
}

async function writeCase(dir: string, base: ModelFiles, mutation: Mutation): Promise<void> {
  await mkdir(join(dir, 'onnx'), { recursive: true });
  for (const file of new Set([...FILES, ...Object.keys(mutation.overrides)])) {
    const path = join(dir, file);
    const override = mutation.overrides[file];
    if (!override) await writeFile(path, base[file]!);
    else if (override.kind === 'bytes') await writeFile(path, override.bytes);
    else if (override.kind === 'directory') await mkdir(path);
    else if (override.kind === 'link') await symlink(override.target, path).catch(() => writeFile(path, '')); // no links (Windows without rights): an empty file
    else if (override.kind === 'fifo') {
      const made = spawnSync('mkfifo', [path]);
      if (made.status !== 0) await writeFile(path, ''); // no mkfifo here: an empty file instead
    }
  }
}

function runChild(dir: string, mutation: Mutation, http: boolean): Promise<Omit<CaseRun, 'seed' | 'mutation' | 'http'>> {
  const args = [`--max-old-space-size=512`, runner, JSON.stringify({ dir, chat: mutation.chat === true, http })];
  const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  // ulimit -d caps native allocations too; a shell that refuses it runs the case uncapped.
  const child =
    process.platform === 'win32'
      ? spawn(process.execPath, args, { cwd: here })
      : spawn('bash', ['-c', `ulimit -d ${MEMORY_MB * 1024} 2>/dev/null; exec '${process.execPath}' ${quoted}`], { cwd: here });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout = (stdout + d.toString()).slice(-1_000_000)));
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
  let timedOut = false;
  const started = performance.now();
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, CASE_TIMEOUT_MS);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith('WEFT_FUZZ_RESULT '));
      const result = line ? (JSON.parse(line.slice('WEFT_FUZZ_RESULT '.length)) as ChildResult) : undefined;
      resolve({ code, signal, timedOut, result, stderr, ms: Math.round(performance.now() - started) });
    });
  });
}

/** The known limit a case ran into, if it ended as one does. */
function knownLimit(run: CaseRun): string | undefined {
  return KNOWN_LIMITS.find((l) => !run.timedOut && run.signal === l.signal && l.kinds.includes(run.mutation.kind) && l.stderr.test(run.stderr))?.what;
}

/** Why a case failed, or undefined when it passed (or ran into a known limit). */
function verdict(run: CaseRun): string | undefined {
  const { result } = run;
  if (knownLimit(run) !== undefined) return undefined;
  if (run.timedOut) return `hang: no exit within ${CASE_TIMEOUT_MS / 1000} s (${result ? `after printing its result, phase ${result.phase}` : 'no result printed'})`;
  if (run.signal) return `killed by ${run.signal}${result ? ` after its result` : ''}; stderr: ${tail(run.stderr)}`;
  if (!result) return `exit code ${run.code} without a result; stderr: ${tail(run.stderr)}`;
  if (run.code !== 0) return `exit code ${run.code} after its result; stderr: ${tail(run.stderr)}`;
  if (result.unhandled.length > 0) return `unhandled rejection: ${result.unhandled.map(show).join(' | ')}`;
  if (result.disposeError) return `weft.dispose() failed: ${show(result.disposeError)}`;
  if (result.openSessions > 0) return `${result.openSessions} onnxruntime session(s) left open after weft.dispose()`;
  if (result.outcome === 'ok') return undefined;
  const error = result.error!;
  if (!error.weft || !TYPED.has(error.name)) return `untyped error in ${result.phase}: ${show(error)}`;
  if (error.message.trim() === '' || /\[object Object\]/.test(error.message)) return `unhelpful message in ${result.phase}: ${show(error)}`;
  if (result.phase === 'load' && !FOLDER_FILES.some((f) => error.message.includes(f))) return `load error naming no file: ${show(error)}`;
  return undefined;
}

const show = (e: ChildError): string => `${e.name}${e.code ? ` [${e.code}]` : ''}: ${e.message.slice(0, 400)}${e.cause ? ` (cause ${e.cause.slice(0, 200)})` : ''}${e.weft ? '' : `\n${e.stack ?? ''}`}`;
const tail = (s: string): string => JSON.stringify(s.slice(-600));

/** Runs `items` through `work`, `jobs` at a time. */
async function pooled<T>(items: readonly T[], jobs: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(jobs, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

/**
 * Source files changed since their package was last built (newer than its tsbuildinfo, which
 * every build writes): the children would run code that is not in src.
 */
function staleBuilds(): string[] {
  const stale: string[] = [];
  for (const pkg of ['packages/core', 'packages/backends/node']) {
    const info = join(repo, pkg, 'tsconfig.tsbuildinfo');
    const built = existsSync(info) ? statSync(info).mtimeMs : 0;
    const walk = (d: string): void => {
      for (const entry of readdirSync(d, { withFileTypes: true })) {
        const path = join(d, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.name.endsWith('.ts') && statSync(path).mtimeMs > built) stale.push(relative(repo, path));
      }
    };
    walk(join(repo, pkg, 'src'));
  }
  return stale;
}

describe('loading corrupt model folders (each case in a child process)', () => {
  let scratch: string;
  let base: ModelFiles;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'weft-load-fuzz-'));
    base = Object.fromEntries(await Promise.all(FILES.map(async (f) => [f, new Uint8Array(await readFile(join(storyModel, f)))] as const)));
  });
  afterAll(async () => {
    if (!env['WEFT_FUZZ_KEEP']) await rm(scratch, { recursive: true, force: true });
  });

  it('the child runs the built packages', () => {
    expect(existsSync(join(repo, 'packages/core/dist/index.js')) && existsSync(join(repo, 'packages/backends/node/dist/index.js')), 'build first: npx pnpm@10 build').toBe(true);
    const stale = staleBuilds();
    if (stale.length > 0) console.warn(`[load-fuzz] changed since the last build: ${stale.slice(0, 5).join(', ')}${stale.length > 5 ? ` and ${stale.length - 5} more` : ''}; the children run the last build (dist/).`);
  });

  it('the unchanged folder loads and generates in a child', async () => {
    const run = await runChild(storyModel, { kind: 'none', detail: 'unchanged', file: GRAPH, overrides: {}, chat: true }, false);
    expect(run.result, run.stderr).toMatchObject({ outcome: 'ok', phase: 'done', openSessions: 0, sessionsOpened: 1 });
  });

  it(
    `${SEEDS.length} corrupt folders end in a typed error or a run, never a crash, hang or leak`,
    async () => {
      const runs: CaseRun[] = [];
      await pooled(SEEDS, JOBS, async (seed) => {
        const mutation = mutate(seed, base);
        const http = overHttp(seed, mutation);
        const dir = join(scratch, `seed-${seed}`);
        await writeCase(dir, base, mutation);
        runs.push({ seed, mutation, http, ...(await runChild(dir, mutation, http)) });
        if (!env['WEFT_FUZZ_KEEP']) await rm(dir, { recursive: true, force: true });
      });
      runs.sort((a, b) => a.seed - b.seed);
      const failures = runs.flatMap((run) => {
        const why = verdict(run);
        return why === undefined ? [] : [`seed ${run.seed} ${run.mutation.kind}${run.http ? ' (over HTTP)' : ''}: ${run.mutation.detail}\n  → ${why}`];
      });
      if (env['WEFT_FUZZ_REPORT']) {
        const report = runs.map((r) => ({ seed: r.seed, kind: r.mutation.kind, detail: r.mutation.detail, http: r.http, verdict: verdict(r) ?? (knownLimit(r) ? `known limit: ${knownLimit(r)}` : 'pass'), code: r.code, signal: r.signal, timedOut: r.timedOut, ms: r.ms, result: r.result }));
        await writeFile(env['WEFT_FUZZ_REPORT'], JSON.stringify(report, null, 1));
      }
      const outcomes = new Map<string, number>();
      for (const run of runs) {
        const key = knownLimit(run) ? 'known limit' : run.result?.outcome === 'ok' ? 'ran' : (run.result?.error?.name ?? 'no result');
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      }
      console.log(`[load-fuzz] ${runs.length} cases: ${[...outcomes].map(([k, n]) => `${k} ${n}`).join(', ')}; ${failures.length} failed`);
      expect(failures, `reproduce with WEFT_FUZZ_SEEDS=<seed> npx vitest run packages/backends/node/test/load-fuzz.test.ts\n${failures.join('\n')}`).toEqual([]);
    },
    Math.ceil(SEEDS.length / JOBS) * 5_000 + 2 * CASE_TIMEOUT_MS,
  );
});
