#!/usr/bin/env node
/**
 * Garbage collection caused by Weft's loop against the minimal greedy loop, on one shared
 * session: blocks of `--runs` requests per engine, alternated (`--blocks`, default 4), each
 * block's wall time and the GC events V8 reports during it (scavenges, mark-compacts and
 * incremental marking), by count and total pause.
 *
 *   npx pnpm@10 build
 *   node packages/cli/bench/gc-load.mjs [--model models/story] [--runs 150] [--tokens 64] [--prompt-tokens 32] [--blocks 4]
 */
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { createWeft } from '@weft/core';
import { nodeBackend } from '@weft/backend-node';
import { benchPromptIds } from '../dist/bench/bench-prompt.js';
import { commandFlags, minimalGreedyLoop, runSettings } from './minimal-loop.mjs';

const flag = commandFlags();
const { dir, shape, runs, tokens, promptTokens } = runSettings(flag, 150);
const blocks = Number(flag('blocks', '4'));
flag.done(import.meta.url);
const weft = createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: 1 } })] });
const model = await weft.load(dir);
const prompt = benchPromptIds(model.tokenizer, promptTokens);

const KINDS = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
};
let events = [];
new PerformanceObserver((list) => events.push(...list.getEntries())).observe({ entryTypes: ['gc'] });
/** Lets pending GC entries reach the observer. */
const settle = () => new Promise((r) => setTimeout(r, 20));

/** Resolves with the number of tokens generated (fewer than asked when the model ends with EOS). */
const weftRun = () =>
  new Promise((done, fail) => {
    let count = 0;
    model.generate({ inputIds: [prompt], maxTokens: tokens, temperature: 0, repetitionPenalty: 1 }).subscribe({
      next: (e) => void (e.type === 'token' && count++),
      complete: () => done(count),
      error: fail,
    });
  });
// The minimal loop has no EOS check: it generates as many tokens as Weft did.
const count = await weftRun();
const engines = { weft: weftRun, bare: () => minimalGreedyLoop(model.session.ortSession, shape, prompt, count, () => {}) };
console.log(`${dir}: blocks of ${runs} requests, ${count} tokens each, prompt ${promptTokens} tokens, one shared session`);
for (let b = 0; b < blocks; b++) {
  const name = b % 2 === 0 ? 'weft' : 'bare';
  await settle();
  events = [];
  const start = performance.now();
  for (let i = 0; i < runs; i++) await engines[name]();
  const wall = performance.now() - start;
  await settle();
  const by = {};
  for (const e of events) {
    const kind = KINDS[e.detail?.kind] ?? 'other';
    by[kind] ??= { count: 0, ms: 0 };
    by[kind].count++;
    by[kind].ms += e.duration;
  }
  const total = events.reduce((s, e) => s + e.duration, 0);
  const parts = Object.entries(by).map(([k, v]) => `${k} ${v.count} (${v.ms.toFixed(1)} ms)`).join(', ');
  console.log(`  ${name.padEnd(5)} ${wall.toFixed(0).padStart(6)} ms wall, GC ${total.toFixed(1)} ms: ${parts}`);
}
await weft.dispose();
