#!/usr/bin/env node
/**
 * Deoptimizations of Weft's own code after warm-up, in a process that does nothing but generate
 * one request after another (as an application serving requests does). A function that keeps
 * deoptimizing is compiled again and again by V8's optimizing compiler, on a thread that competes
 * with onnxruntime's forward pass for the CPU. Runs the requests in a child `node
 * --trace-deopt-verbose` and lists each deoptimization in a `@weft/*` build's code after
 * `--warmup` requests (up to the last request's end, so not disposal), by source position: the
 * failed check's, and when that is a library's or Node's code inlined into Weft's, the Weft
 * position it was inlined in (0 is the expected answer). A second list counts optimized code V8
 * threw away without a failed check because an assumption it was compiled on broke (a map or
 * field changed): that too is recompiled, but the trace names only the function, so this list
 * counts any code (0 expected as well).
 *
 *   npx pnpm@10 build
 *   node packages/cli/bench/deopt-watch.mjs [--model models/story] [--requests 300] [--warmup 100]
 *                                           [--tokens 64] [--prompt-tokens 32] [--root ../weft-before]
 *                                           [--request greedy]
 *
 * `--request NAME` picks what each request is (every one greedy with `ignoreEos` and `--tokens`
 * new tokens unless said otherwise):
 *   greedy        `generate`, batch 1, the default store, no router (the default)
 *   sampled       temperature 0.8, topP 0.9, the seed the request's index
 *   stops         two stop strings that never match ("zzzq", "\nQQQ")
 *   batch         three prompts of `--prompt-tokens`, 7 fewer and 13 fewer ids (so padding)
 *   int4-sink     plugins kvQuant({ bits: 4 }) and sinkWindow({ window: 48 }) in createWeft, so
 *                 the int4 store evicts once a row holds more than 52 positions (4 sinks + 48)
 *   heavy-hitter  onnx/model_with_attentions.onnx, attentionRouters() and the request's router
 *                 { name: 'heavy-hitter', options: { budget: 48 } }
 *   stream        `model.stream()` read with for-await instead of `generate`
 *
 * `--root DIR` watches another checkout's build: every @weft package the child imports (core, the
 * node backend, the kv and attention plugins, the bench prompt) comes from DIR, so one copy of
 * each is loaded, as in an application.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { commandFlags, repoRoot } from './minimal-loop.mjs';

const CHILD = 'WEFT_DEOPT_WATCH_CHILD';

/**
 * Each `--request` shape, made once in the child: the plugins it adds to createWeft, the options
 * it loads the model with, the prompt lengths of its rows (`--prompt-tokens` given), and request
 * number `i` made from the plain greedy one; `stream` reads it with `model.stream()`. `pkg(name)`
 * imports a package from `--root`'s build.
 */
const SHAPES = {
  greedy: async () => ({}),
  sampled: async () => ({ request: (base, i) => ({ ...base, temperature: 0.8, topP: 0.9, seed: i }) }),
  stops: async () => ({ request: (base) => ({ ...base, stop: ['zzzq', '\nQQQ'] }) }),
  batch: async () => ({ promptLengths: (n) => [n, n - 7, n - 13] }),
  'int4-sink': async (pkg) => {
    const [kv, attention] = [await pkg('plugins/kv'), await pkg('plugins/attention')];
    return { plugins: [kv.kvQuant({ bits: 4 }), attention.sinkWindow({ window: 48 })] };
  },
  'heavy-hitter': async (pkg) => ({
    plugins: [(await pkg('plugins/attention')).attentionRouters()],
    load: { onnxFile: 'onnx/model_with_attentions.onnx' },
    request: (base) => ({ ...base, router: { name: 'heavy-hitter', options: { budget: 48 } } }),
  }),
  stream: async () => ({ stream: true }),
};

if (process.env[CHILD]) {
  const { root, dir, requests, warmup, tokens, promptTokens, shapeName } = JSON.parse(process.env[CHILD]);
  const pkg = (name) => import(pathToFileURL(join(root, 'packages', name, 'dist/index.js')).href);
  const core = await pkg('core');
  const backend = await pkg('backends/node');
  const { benchPromptIds } = await import(pathToFileURL(join(root, 'packages/cli/dist/bench/bench-prompt.js')).href);
  const shape = await SHAPES[shapeName](pkg);
  const nodeBackend = backend.nodeBackend({ defaults: { intraOpNumThreads: 1, interOpNumThreads: 1 } });
  const weft = core.createWeft({ plugins: [nodeBackend, ...(shape.plugins ?? [])] });
  const model = await weft.load(dir, shape.load);
  // Encoded once: the child's own work per request stays out of what the trace shows.
  const promptIds = (count) => benchPromptIds(model.tokenizer, count);
  const inputIds = shape.promptLengths ? shape.promptLengths(promptTokens).map(promptIds) : promptIds(promptTokens);
  const base = { inputIds, maxTokens: tokens, temperature: 0, ignoreEos: true };
  const generated = (request) =>
    new Promise((done, fail) => model.generate(request).subscribe({ next() {}, error: fail, complete: done }));
  const streamed = async (request) => {
    for await (const _text of model.stream(request));
  };
  for (let i = 0; i < requests; i++) {
    if (i === warmup) console.log('WEFT-DEOPT-WATCH: warm');
    await (shape.stream ? streamed : generated)(shape.request ? shape.request(base, i) : base);
  }
  // What disposing throws away (once, at the end) is not a deoptimization between requests.
  console.log('WEFT-DEOPT-WATCH: done');
  await weft.dispose();
  process.exit(0);
}

const flag = commandFlags();
const root = resolve(flag('root', repoRoot));
const dir = resolve(repoRoot, flag('model', 'models/story'));
const requests = Number(flag('requests', '300'));
const warmup = Number(flag('warmup', '100'));
const tokens = Number(flag('tokens', '64'));
const promptTokens = Number(flag('prompt-tokens', '32'));
const shapeName = flag('request', 'greedy');
flag.done(import.meta.url);
if (!Object.hasOwn(SHAPES, shapeName)) {
  console.error(`deopt-watch.mjs: --request must be one of ${Object.keys(SHAPES).join(', ')} (got ${JSON.stringify(shapeName)}).`);
  process.exit(2);
}
if (shapeName === 'batch' && !(Number.isInteger(promptTokens) && promptTokens > 13)) {
  console.error('deopt-watch.mjs: --request batch needs --prompt-tokens above 13 (its shorter prompts have 7 and 13 fewer ids).');
  process.exit(2);
}
if (!(Number.isInteger(warmup) && warmup >= 0 && Number.isInteger(requests) && requests > warmup)) {
  console.error('deopt-watch.mjs: --requests must be an integer greater than --warmup.');
  process.exit(2);
}

const child = spawn(process.execPath, ['--trace-deopt-verbose', fileURLToPath(import.meta.url)], {
  env: { ...process.env, [CHILD]: JSON.stringify({ root, dir, requests, warmup, tokens, promptTokens, shapeName }) },
  stdio: ['ignore', 'pipe', 'inherit'],
});
// Counted only between the child's warm and done lines.
let counting = false;
let pending = '';
let bailout = '';
const late = new Map();
const discarded = new Map();
const bump = (counts, key) => counts.set(key, (counts.get(key) ?? 0) + 1);
const shortPath = (at) => at.replace(/^file:\/\//, '').replace(root + '/', '');
const inWeft = (at) => /\/packages\/[^ ]*\/dist\//.test(at);

/**
 * A deoptimization's key: the innermost position (where the failed check was), and when that is
 * not Weft's code (a library or Node function inlined into Weft's), the first of Weft's functions
 * it was inlined into. Undefined when no position in the chain is Weft's.
 */
function deoptKey(line) {
  const chain = [...line.matchAll(/<([^>]*)>/g)].map((m) => m[1]);
  const weft = chain.find(inWeft);
  if (weft === undefined) return undefined;
  const at = inWeft(chain[0]) ? shortPath(chain[0]) : `${shortPath(chain[0])} inlined in ${shortPath(weft)}`;
  return `${at} (${bailout})`;
}

child.stdout.setEncoding('utf8');
child.stdout.on('data', (chunk) => {
  const lines = (pending + chunk).split('\n');
  pending = lines.pop();
  for (const line of lines) {
    if (line.startsWith('WEFT-DEOPT-WATCH: warm')) counting = true;
    else if (line.startsWith('WEFT-DEOPT-WATCH: done')) counting = false;
    else if (line.includes('[bailout')) bailout = /reason: ([^)]*)\)/.exec(line)?.[1] ?? '?';
    else if (!counting) continue;
    else if (line.includes(';;; deoptimize at')) {
      const key = deoptKey(line);
      if (key !== undefined) bump(late, key);
    } else if (line.startsWith('[marking dependent code')) {
      // Optimized code thrown away without a failed check (a map or field it relied on changed):
      // recompiled too, but the trace names only the function, so this counts any code.
      const name = /<SharedFunctionInfo ([^>]*)>/.exec(line)?.[1] || '(anonymous)';
      bump(discarded, `${name} (${/reason: ([^\]]*)/.exec(line)?.[1] ?? '?'})`);
    }
  }
});
const code = await new Promise((done) => child.on('close', done));
if (code !== 0) {
  console.error(`deopt-watch.mjs: the child process exited with ${code}.`);
  process.exit(1);
}
const sum = (counts) => [...counts.values()].reduce((s, n) => s + n, 0);
const list = (counts) => [...counts].sort((a, b) => b[1] - a[1]).forEach(([key, n]) => console.log(`  ${String(n).padStart(4)}  ${key}`));
console.log(`${root}: ${requests} ${shapeName} requests of ${tokens} tokens (prompt ${promptTokens}); deoptimizations in Weft's code after request ${warmup}: ${sum(late)}`);
list(late);
console.log(`optimized code of any function discarded as its assumptions broke, after request ${warmup}: ${sum(discarded)}`);
list(discarded);
