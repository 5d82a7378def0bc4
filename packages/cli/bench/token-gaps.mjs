#!/usr/bin/env node
/**
 * The whole distribution of the gaps between tokens, not just the median `weft bench` reports,
 * and V8's garbage collection inside each loop's runs. Runs Weft's `generate` (as `weft bench`
 * does: greedy, `ignoreEos`) and `weft bench`'s bare onnxruntime-node loop on one session in
 * the order A/B, B/A, …, and reports per loop the median, mean, p90, p99 and largest gap, the
 * median wall time of a run, the GC pause time (by kind) that fell inside its runs, where in a
 * run the slow steps fall, and the median gap to the second token (the first decode step).
 *
 * `--alone weft|bare` runs only that loop, `--runs` requests after 50 untimed ones, and reports
 * the same for it, and its collections by kind: a loop's own GC load and slow steps, with nobody
 * else's garbage in the heap.
 *
 *   npx pnpm@10 build
 *   node packages/cli/bench/token-gaps.mjs [--model models/story] [--runs 300] [--tokens 64] [--prompt-tokens 32] [--alone weft|bare]
 */
import { PerformanceObserver, constants } from 'node:perf_hooks';
import * as core from '@weft/core';
import * as backend from '@weft/backend-node';
import { BareGreedyLoop } from '../dist/bench/bare-loop.js';
import { benchPromptIds } from '../dist/bench/bench-prompt.js';
import { commandFlags, runSettings } from './minimal-loop.mjs';

const flag = commandFlags();
const { dir, runs, tokens, promptTokens } = runSettings(flag, 300);
const alone = flag('alone', undefined);
flag.done(import.meta.url);
if (alone !== undefined && alone !== 'weft' && alone !== 'bare') throw new Error('--alone must be weft or bare');

const weft = core.createWeft({ plugins: [backend.nodeBackend()] });
const model = await weft.load(dir, { backend: 'node', session: { intraOpNumThreads: 1 } });
const prompt = benchPromptIds(model.tokenizer, promptTokens);
const bare = await BareGreedyLoop.onSession(dir, model.session.ortSession);

/** Each engine resolves with its start time and the time each token arrived. */
const engines = {
  weft: () =>
    new Promise((resolve, reject) => {
      const start = performance.now();
      const times = [];
      model.generate({ inputIds: [prompt], maxTokens: tokens, temperature: 0, repetitionPenalty: 1, ignoreEos: true }).subscribe({
        next: (e) => {
          if (e.type === 'token') times[e.index] = performance.now();
        },
        error: reject,
        complete: () => resolve({ start, times }),
      });
    }),
  bare: async () => {
    const start = performance.now();
    const { tokenTimes } = await bare.generate([prompt], tokens);
    return { start, times: tokenTimes };
  },
};

const KIND = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
};
const collections = [];
let recording = false;
const observer = new PerformanceObserver((list) => {
  if (!recording) return;
  for (const e of list.getEntries()) collections.push({ start: e.startTime, end: e.startTime + e.duration, kind: KIND[e.detail?.kind] ?? 'other' });
});
observer.observe({ entryTypes: ['gc'] });
/** GC entries are delivered after the fact: give them a turn to arrive. */
const settle = () => new Promise((r) => setTimeout(r, 50));
const ms = (x) => x.toFixed(2);
const us = (x) => (x * 1000).toFixed(0);

const timed = { weft: [], bare: [] };
if (alone) {
  for (let i = 0; i < 50; i++) await engines[alone]();
  recording = true;
  for (let i = 0; i < runs; i++) timed[alone].push(await engines[alone]());
  recording = false;
  await settle();
  const byKind = {};
  for (const c of collections) {
    const k = (byKind[c.kind] ??= { count: 0, ms: 0 });
    k.count++;
    k.ms += c.end - c.start;
  }
  console.log(`${dir}: ${alone} alone, ${runs} requests of ${tokens} tokens, prompt ${prompt.length} tokens`);
  for (const [kind, k] of Object.entries(byKind)) console.log(`  ${kind.padEnd(15)} ${String(k.count).padStart(5)} collections, ${ms(k.ms)} ms of pauses`);
} else {
  for (let i = 0; i < runs + 2; i++) {
    for (const name of i % 2 === 0 ? ['weft', 'bare'] : ['bare', 'weft']) {
      recording = i >= 2;
      const run = await engines[name]();
      if (i >= 2) timed[name].push(run);
    }
  }
  recording = false;
  await settle();
  console.log(`${dir}: ${runs} runs per loop of ${tokens} tokens, prompt ${prompt.length} tokens, order A/B, B/A, … on one session`);
}
console.log('       gap: median     mean      p90      p99      max   run wall (median)   GC inside its runs, per run');
const where = [];
for (const name of alone ? [alone] : ['weft', 'bare']) {
  const runsOf = timed[name];
  const gaps = runsOf.flatMap((r) => r.times.slice(1).map((t, i) => t - r.times[i])).sort((a, b) => a - b);
  const at = (p) => gaps[Math.min(gaps.length - 1, Math.floor(gaps.length * p))];
  const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
  const wall = core.median(runsOf.map((r) => r.times.at(-1) - r.start));
  const gc = {};
  let gcTotal = 0;
  for (const r of runsOf) {
    const end = r.times.at(-1);
    for (const c of collections) {
      if (c.start < r.start || c.start >= end) continue;
      gc[c.kind] = (gc[c.kind] ?? 0) + (c.end - c.start);
      gcTotal += c.end - c.start;
    }
  }
  const kinds = Object.entries(gc).map(([k, v]) => `${k} ${ms(v / runsOf.length)}`).join(', ');
  // Where in a run the slow steps fall (more than twice the median gap), and the first decode step.
  const slow = { first: 0, middle: 0, last: 0 };
  for (const r of runsOf) {
    for (let i = 1; i < r.times.length; i++) {
      if (r.times[i] - r.times[i - 1] <= 2 * at(0.5)) continue;
      if (i <= 8) slow.first++;
      else if (i >= r.times.length - 8) slow.last++;
      else slow.middle++;
    }
  }
  const second = core.median(runsOf.map((r) => r.times[1] - r.times[0]));
  where.push(`${name.padEnd(5)} gaps over twice the median: ${slow.first} in the first 8 steps, ${slow.middle} between, ${slow.last} in the last 8; gap to the second token (median) ${us(second)} µs`);
  console.log(
    `${name.padEnd(5)} µs ${us(at(0.5)).padStart(8)} ${us(mean).padStart(8)} ${us(at(0.9)).padStart(8)} ${us(at(0.99)).padStart(8)} ${us(gaps.at(-1)).padStart(8)}   ${ms(wall).padStart(8)} ms          ${ms(gcTotal / runsOf.length)} ms (${kinds})`,
  );
}
for (const line of where) console.log(line);
observer.disconnect();
await weft.dispose();
