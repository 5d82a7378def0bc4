#!/usr/bin/env node
/**
 * Deoptimizations of Weft's own code after warm-up, in a process that does nothing but generate
 * one request after another (as an application serving requests does). A function that keeps
 * deoptimizing is compiled again and again by V8's optimizing compiler, on a thread that competes
 * with onnxruntime's forward pass for the CPU. Runs the requests in a child `node
 * --trace-deopt-verbose` and lists each deoptimization in a `@weft/*` build's code after
 * `--warmup` requests, by source position (0 is the expected answer).
 *
 *   npx pnpm@10 build
 *   node packages/cli/bench/deopt-watch.mjs [--model models/story] [--requests 300] [--warmup 100]
 *                                           [--tokens 64] [--prompt-tokens 32] [--root ../weft-before]
 *
 * `--root DIR` watches another checkout's build (its core, node backend and bench prompt only, so
 * one copy of @weft/core is loaded, as in an application).
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { commandFlags, repoRoot } from './minimal-loop.mjs';

const CHILD = 'WEFT_DEOPT_WATCH_CHILD';

if (process.env[CHILD]) {
  const { root, dir, requests, warmup, tokens, promptTokens } = JSON.parse(process.env[CHILD]);
  const url = (p) => pathToFileURL(join(root, p)).href;
  const core = await import(url('packages/core/dist/index.js'));
  const backend = await import(url('packages/backends/node/dist/index.js'));
  const { benchPromptIds } = await import(url('packages/cli/dist/bench/bench-prompt.js'));
  const weft = core.createWeft({ plugins: [backend.nodeBackend({ defaults: { intraOpNumThreads: 1, interOpNumThreads: 1 } })] });
  const model = await weft.load(dir);
  const inputIds = benchPromptIds(model.tokenizer, promptTokens);
  const request = () =>
    new Promise((done, fail) =>
      model.generate({ inputIds, maxTokens: tokens, temperature: 0, ignoreEos: true }).subscribe({ next() {}, error: fail, complete: done }),
    );
  for (let i = 0; i < requests; i++) {
    if (i === warmup) console.log('WEFT-DEOPT-WATCH: warm');
    await request();
  }
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
flag.done(import.meta.url);
if (!(Number.isInteger(warmup) && warmup >= 0 && Number.isInteger(requests) && requests > warmup)) {
  console.error('deopt-watch.mjs: --requests must be an integer greater than --warmup.');
  process.exit(2);
}

const child = spawn(process.execPath, ['--trace-deopt-verbose', fileURLToPath(import.meta.url)], {
  env: { ...process.env, [CHILD]: JSON.stringify({ root, dir, requests, warmup, tokens, promptTokens }) },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let warm = false;
let pending = '';
let bailout = '';
const late = new Map();
child.stdout.setEncoding('utf8');
child.stdout.on('data', (chunk) => {
  const lines = (pending + chunk).split('\n');
  pending = lines.pop();
  for (const line of lines) {
    if (line.startsWith('WEFT-DEOPT-WATCH: warm')) warm = true;
    else if (line.includes('[bailout')) bailout = /reason: ([^)]*)\)/.exec(line)?.[1] ?? '?';
    else if (warm && line.includes(';;; deoptimize at')) {
      // The innermost position: where the failed check was, possibly inlined into a caller.
      const at = /deoptimize at <([^>]*)>/.exec(line)?.[1] ?? line.trim();
      if (!/\/packages\/[^ ]*\/dist\//.test(at)) continue;
      const key = `${at.replace(/^file:\/\//, '').replace(root + '/', '')} (${bailout})`;
      late.set(key, (late.get(key) ?? 0) + 1);
    }
  }
});
const code = await new Promise((done) => child.on('close', done));
if (code !== 0) {
  console.error(`deopt-watch.mjs: the child process exited with ${code}.`);
  process.exit(1);
}
const total = [...late.values()].reduce((s, n) => s + n, 0);
console.log(`${root}: ${requests} requests of ${tokens} tokens (prompt ${promptTokens}); deoptimizations in Weft's code after request ${warmup}: ${total}`);
for (const [at, n] of [...late].sort((a, b) => b[1] - a[1])) console.log(`  ${String(n).padStart(4)}  ${at}`);
