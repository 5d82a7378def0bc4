#!/usr/bin/env node
/**
 * Which JavaScript functions run between the call and the first token: Weft's `generate` against
 * the minimal greedy onnxruntime-node loop, after warm-up requests, counted with V8's precise
 * coverage (call counts per function, through `node:inspector`). The cold-code explanation of
 * Weft's added time to first token (docs/benchmarks.md) rests on how many distinct functions a
 * request touches; this prints them, grouped by where they live.
 *
 *   npx pnpm@10 build
 *   node packages/cli/bench/request-functions.mjs [--model models/story] [--prompt-tokens 32] [--list]
 *
 * `--list` prints every function with its call count, not only the totals per group. The
 * coverage session itself adds a few functions to both sides (`node:inspector`, this script).
 *
 * `--decode` counts instead what runs from the 10th token to the 42nd (32 decode steps), so the
 * call counts show what each decode step runs (a count of 32 is once per step).
 */
import inspector from 'node:inspector';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import * as core from '@weft/core';
import * as backend from '@weft/backend-node';
import { benchPromptIds } from '../dist/bench/bench-prompt.js';
import { commandFlags, minimalGreedyLoop, runSettings } from './minimal-loop.mjs';

const flag = commandFlags();
const { dir, shape, tokens, promptTokens } = runSettings(flag, 0);
const list = flag.on('list');
const decode = flag.on('decode');
flag.done(import.meta.url);
const warmUps = 20;

const session = new inspector.Session();
session.connect();
const post = (method, params) =>
  new Promise((resolve, reject) => session.post(method, params, (err, value) => (err ? reject(err) : resolve(value))));
await post('Profiler.enable');
await post('Profiler.startPreciseCoverage', { callCount: true, detailed: false });

/**
 * Runs `request(onFirstToken)` once with coverage counters reset just before it; the snapshot is
 * taken synchronously (the in-process inspector answers at once) inside the first token callback.
 */
async function coverageToFirstToken(request) {
  await new Promise((resolve) => setTimeout(resolve, 20)); // lets pending writes and timers finish first
  await post('Profiler.takePreciseCoverage'); // resets the counters
  let snapshot;
  await request(() => {
    if (snapshot === undefined) session.post('Profiler.takePreciseCoverage', (err, value) => (snapshot = err ? err : value));
  });
  if (!snapshot?.result) throw new Error(`no coverage snapshot: ${snapshot}`);
  return snapshot.result;
}

/** A readable origin for a script URL: the package for node_modules, the repo path otherwise. */
function origin(url) {
  const pkg = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return 'node internals';
  const repo = /\/packages\/(.+?)\/dist\//.exec(url);
  if (repo) return `@weft ${repo[1]}`;
  return 'this script';
}

/** Functions with a nonzero call count, as `{ origin, name, calls }`. Skips top-level script bodies. */
function calledFunctions(result) {
  const called = [];
  for (const script of result) {
    for (const fn of script.functions) {
      const range = fn.ranges[0];
      if (range.count === 0 || (fn.functionName === '' && range.startOffset === 0)) continue;
      called.push({ origin: origin(script.url), name: fn.functionName || '(anonymous)', calls: range.count });
    }
  }
  return called;
}

/** Coverage from the `from`th token event to the `to`th (the counters reset at the first). */
async function coverageBetweenTokens(request, from, to) {
  let seen = 0;
  let snapshot;
  await request(() => {
    seen++;
    if (seen === from) session.post('Profiler.takePreciseCoverage', () => {});
    if (seen === to) session.post('Profiler.takePreciseCoverage', (err, value) => (snapshot = err ? err : value));
  });
  if (!snapshot?.result) throw new Error(`no coverage snapshot: ${snapshot}`);
  return snapshot.result;
}

function report(label, called) {
  const groups = new Map();
  for (const fn of called) groups.set(fn.origin, [...(groups.get(fn.origin) ?? []), fn]);
  console.log(`\n${label}: ${called.length} distinct functions${decode ? ' over 32 decode steps' : ''}`);
  for (const [name, fns] of [...groups].sort((a, b) => b[1].length - a[1].length)) {
    console.log(`  ${String(fns.length).padStart(4)}  ${name}`);
    if (list) console.log(`        ${fns.map((f) => `${f.name}×${f.calls}`).join(' ')}`);
  }
}

const weft = core.createWeft({ plugins: [backend.nodeBackend()] });
const model = await weft.load(dir, { backend: 'node', session: { intraOpNumThreads: 1 } });
const prompt = benchPromptIds(model.tokenizer, promptTokens);
const request = { inputIds: [prompt], maxTokens: tokens, temperature: 0, repetitionPenalty: 1, ignoreEos: true };
const weftRun = (onToken) =>
  new Promise((resolve, reject) =>
    model.generate(request).subscribe({
      next: (e) => e.type === 'token' && onToken(),
      complete: resolve,
      error: reject,
    }),
  );
const bare = await ort.InferenceSession.create(join(dir, 'onnx/model.onnx'), { intraOpNumThreads: 1 });
const bareRun = (onToken) => minimalGreedyLoop(bare, shape, prompt, tokens, onToken);
if (decode && tokens < 42) {
  console.error(`request-functions.mjs: --decode needs --tokens of at least 42 (got ${tokens})`);
  process.exit(2);
}

console.log(`${dir}: ${promptTokens}-token prompt, after ${warmUps} warm-up requests of each; ${decode ? 'tokens 10 to 42' : 'call to first token'}`);
const coverage = (run) => (decode ? coverageBetweenTokens(run, 10, 42) : coverageToFirstToken(run));
for (let i = 0; i < warmUps; i++) {
  await weftRun(() => {});
  await bareRun(() => {});
}
const weftCalled = calledFunctions(await coverage(weftRun));
const bareCalled = calledFunctions(await coverage(bareRun));
report('weft generate', weftCalled);
report('minimal loop', bareCalled);
await post('Profiler.stopPreciseCoverage');
session.disconnect();
await bare.release();
await weft.dispose();
