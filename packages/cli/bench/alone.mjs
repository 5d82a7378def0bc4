#!/usr/bin/env node
/**
 * Weft by itself: a process that loads the model and generates one request after another with
 * nothing else in it, as an application serving requests does (`weft bench` instead alternates
 * Weft with a bare loop in one process, which changes what V8 and the caches see). Each round
 * starts one child process per build; with `--baseline DIR` (another checkout, built) the builds
 * alternate, so both see the same hours of the machine. Each child loads only its own build's
 * @weft/core. Reports, per build, the medians over rounds of: the median gap between tokens, the
 * median time inside onnxruntime's run (`forwardMs`), the median time to first token, and the
 * process's CPU time (user + system) per request.
 *
 *   npx pnpm@10 build
 *   node packages/cli/bench/alone.mjs [--model models/story] [--rounds 3] [--requests 500] [--warmup 20]
 *                                     [--tokens 64] [--prompt-tokens 32] [--baseline ../weft-before]
 */
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { commandFlags, repoRoot } from './minimal-loop.mjs';

const CHILD = 'WEFT_ALONE_CHILD';
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
};

if (process.env[CHILD]) {
  const { root, dir, requests, warmup, tokens, promptTokens } = JSON.parse(process.env[CHILD]);
  const url = (p) => pathToFileURL(join(root, p)).href;
  const core = await import(url('packages/core/dist/index.js'));
  const backend = await import(url('packages/backends/node/dist/index.js'));
  const { benchPromptIds } = await import(url('packages/cli/dist/bench/bench-prompt.js'));
  const weft = core.createWeft({ plugins: [backend.nodeBackend({ defaults: { intraOpNumThreads: 1, interOpNumThreads: 1 } })] });
  const model = await weft.load(dir);
  const inputIds = benchPromptIds(model.tokenizer, promptTokens);
  const gaps = [];
  const inRun = [];
  const firsts = [];
  const request = (timed) =>
    new Promise((done, fail) => {
      const start = performance.now();
      let last = start;
      model.generate({ inputIds, maxTokens: tokens, temperature: 0, ignoreEos: true }).subscribe({
        next(event) {
          if (!timed) return;
          if (event.type === 'token') {
            const now = performance.now();
            (event.index === 0 ? firsts : gaps).push(now - last);
            last = now;
          } else if (event.type === 'metrics' && event.step > 0) inRun.push(event.forwardMs);
        },
        error: fail,
        complete: done,
      });
    });
  for (let i = 0; i < warmup; i++) await request(false);
  const before = process.cpuUsage();
  for (let i = 0; i < requests; i++) await request(true);
  const cpu = process.cpuUsage(before);
  await weft.dispose();
  console.log(JSON.stringify({ gap: median(gaps), inRun: median(inRun), first: median(firsts), cpuPerRequest: (cpu.user + cpu.system) / 1000 / requests }));
  process.exit(0);
}

const flag = commandFlags();
const dir = resolve(repoRoot, flag('model', 'models/story'));
const rounds = Number(flag('rounds', '3'));
const requests = Number(flag('requests', '500'));
const warmup = Number(flag('warmup', '20'));
const tokens = Number(flag('tokens', '64'));
const promptTokens = Number(flag('prompt-tokens', '32'));
const baseline = flag('baseline', undefined);
flag.done(import.meta.url);
for (const [name, value] of Object.entries({ rounds, requests, tokens, promptTokens })) {
  if (!(Number.isInteger(value) && value > 0)) {
    console.error(`alone.mjs: --${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} must be a positive integer.`);
    process.exit(2);
  }
}
if (!(Number.isInteger(warmup) && warmup >= 0)) {
  console.error('alone.mjs: --warmup must be a whole number of requests (0 or more).');
  process.exit(2);
}

const builds = [['this', repoRoot], ...(baseline ? [['baseline', resolve(baseline)]] : [])];
const results = new Map(builds.map(([name]) => [name, []]));
const run = promisify(execFile);
for (let round = 0; round < rounds; round++) {
  // Alternate which build goes first, so neither always follows the other.
  const order = round % 2 === 0 ? builds : [...builds].reverse();
  for (const [name, root] of order) {
    const { stdout } = await run(process.execPath, [fileURLToPath(import.meta.url)], {
      env: { ...process.env, [CHILD]: JSON.stringify({ root, dir, requests, warmup, tokens, promptTokens }) },
      maxBuffer: 1 << 20,
    });
    const result = JSON.parse(stdout.trim().split('\n').at(-1));
    results.get(name).push(result);
    console.log(`round ${round + 1} ${name.padEnd(8)} gap ${(result.gap * 1000).toFixed(1)} µs, in run ${(result.inRun * 1000).toFixed(1)} µs, first token ${(result.first * 1000).toFixed(0)} µs, CPU ${result.cpuPerRequest.toFixed(2)} ms/request`);
  }
}
console.log(`medians over ${rounds} rounds of ${requests} requests (${tokens} tokens, prompt ${promptTokens}; ${dir}):`);
if (baseline) {
  // Rounds drift with the machine's load: the difference within a round (both builds ran back to
  // back) is the steadier figure.
  const diff = (key, scale) => median(results.get('this').map((r, i) => r[key] - results.get('baseline')[i][key])) * scale;
  console.log(
    `  this − baseline, median of per-round differences: gap ${diff('gap', 1000).toFixed(1)} µs, in run ${diff('inRun', 1000).toFixed(1)} µs, first token ${diff('first', 1000).toFixed(0)} µs, CPU ${diff('cpuPerRequest', 1).toFixed(2)} ms/request`,
  );
}
for (const [name, root] of builds) {
  const rows = results.get(name);
  const m = (key) => median(rows.map((r) => r[key]));
  console.log(`  ${name.padEnd(8)} gap ${(m('gap') * 1000).toFixed(1)} µs, in run ${(m('inRun') * 1000).toFixed(1)} µs, first token ${(m('first') * 1000).toFixed(0)} µs, CPU ${m('cpuPerRequest').toFixed(2)} ms/request  (${root})`);
}
