#!/usr/bin/env node
/**
 * Does JavaScript run just before a forward pass make that forward pass slower, and what kind?
 * Runs the minimal greedy loop (no Weft code) and puts one kind of work between building step 0's
 * feeds and `session.run`, rotating the kinds request by request on one session:
 *
 * - `none`: nothing;
 * - `spin`: a busy wait of `--spin` µs (time passes, almost nothing is touched);
 * - `sweep`: reads and writes one value per cache line of a `--kb` KiB buffer (data only);
 * - `functions`: calls `--functions` distinct small functions once each (code: each has its own
 *   bytecode, feedback and hidden classes, as cold request setup does).
 *
 * Reports per kind the median time of the inserted work and of step 0's `session.run` (the
 * prefill), and the prefill's difference from `none`. Weft's request setup is such code, and this
 * is what explains why its prefill takes longer than the bare loop's on the same session
 * (docs/benchmarks.md, "Time to first token").
 *
 * `--at decode` puts the work before every decode step's `session.run` instead (requests of
 * `--tokens` tokens) and reports the time inside each decode step's run (mean over a request's
 * steps, median over requests): does code run between steps, as Weft's per-step code is, slow
 * the next step's run? Weft's decode step runs ~40 distinct functions the minimal loop does not
 * (`request-functions.mjs` counts them), so `--functions 40` is the comparison.
 *
 *   node packages/cli/bench/code-footprint.mjs [--model models/story] [--runs 150] [--prompt-tokens 32]
 *                                              [--spin 80] [--kb 256] [--functions 300]
 *   node packages/cli/bench/code-footprint.mjs --at decode --functions 40 --spin 10 --kb 64 [--tokens 64]
 */
import * as core from '@weft/core';
import * as backend from '@weft/backend-node';
import { benchPromptIds } from '../dist/bench/bench-prompt.js';
import { commandFlags, minimalGreedyLoop, runSettings } from './minimal-loop.mjs';

const flag = commandFlags();
const { dir, shape, runs, promptTokens, tokens } = runSettings(flag, 150);
const at = flag('at', 'prefill');
if (at !== 'prefill' && at !== 'decode') {
  console.error(`code-footprint.mjs: --at must be prefill or decode (got ${JSON.stringify(at)})`);
  process.exit(2);
}
const spinUs = Number(flag('spin', '80'));
const kb = Number(flag('kb', '256'));
const functionCount = Number(flag('functions', '300'));
flag.done(import.meta.url);

const weft = core.createWeft({ plugins: [backend.nodeBackend()] });
const model = await weft.load(dir, { backend: 'node', session: { intraOpNumThreads: 1 } });
const prompt = benchPromptIds(model.tokenizer, promptTokens);
const session = model.session.ortSession;

const buffer = new Float64Array(kb * 128);
// Distinct sources, so V8 keeps distinct bytecode and feedback for each.
const functions = Array.from(
  { length: functionCount },
  (_, k) => new Function('o', `let s = ${k}; for (const key in o) s += o[key] * ${(k % 7) + 1}; return { a: s, b: [s, ${k}], c: 'x${k}' };`),
);
const kinds = {
  none: undefined,
  spin: () => {
    const end = performance.now() + spinUs / 1000;
    while (performance.now() < end);
  },
  sweep: () => {
    for (let i = 0; i < buffer.length; i += 8) buffer[i] += 1;
  },
  functions: () => {
    let sum = 0;
    for (const f of functions) sum += f({ p: 1, q: 2 }).a;
    buffer[0] = sum;
  },
};
const names = Object.keys(kinds);
const timed = Object.fromEntries(names.map((n) => [n, { work: [], prefill: [] }]));
const warmup = 10;
for (let i = 0; i < warmup + runs; i++) {
  for (let k = 0; k < names.length; k++) {
    const name = names[(i + k) % names.length];
    const work = kinds[name];
    let workStart = 0;
    let runMs = 0;
    let workMs = 0;
    const measured = () => {
      workStart = performance.now();
      work?.();
    };
    // At the prefill, one token: the prefill is all this measures, and the next request follows
    // at once. At decode steps, the mean over the request's decode steps.
    await minimalGreedyLoop(
      session,
      shape,
      prompt,
      at === 'prefill' ? 1 : tokens,
      (t, runStart, runEnd) => {
        if ((at === 'prefill') !== (t === 0)) return;
        runMs += runEnd - runStart;
        workMs += runStart - workStart;
      },
      at === 'prefill' ? measured : undefined,
      at === 'decode' ? measured : undefined,
    );
    if (i < warmup) continue;
    const steps = at === 'prefill' ? 1 : tokens - 1;
    timed[name].work.push(work ? workMs / steps : 0);
    timed[name].prefill.push(runMs / steps);
  }
}
const us = (ms) => `${(ms * 1000).toFixed(1)} µs`;
const base = core.median(timed.none.prefill);
const where = at === 'prefill' ? 'the prefill' : 'each decode step';
console.log(`${dir}: prompt ${prompt.length} tokens, ${at === 'decode' ? `${tokens} tokens, ` : ''}${runs} requests per kind (median), one session, 1 intra-op thread`);
console.log(`kind        work before ${where}   ${at === 'prefill' ? 'prefill' : 'decode step'} (session.run)   difference from none`);
for (const n of names) {
  const prefill = core.median(timed[n].prefill);
  const label = n === 'spin' ? `spin ${spinUs} µs` : n === 'sweep' ? `sweep ${kb} KiB` : n === 'functions' ? `${functionCount} functions` : n;
  console.log(`${label.padEnd(16)} ${us(core.median(timed[n].work)).padStart(16)} ${us(prefill).padStart(22)} ${(n === 'none' ? '' : us(prefill - base)).padStart(16)}`);
}
await weft.dispose();
