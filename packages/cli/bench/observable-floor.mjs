#!/usr/bin/env node
/**
 * What an RxJS Observable by itself costs the first token (and each later one), against what Weft
 * costs: three engines
 * on one onnxruntime-node session (Weft's), in rotating order, each generating `--tokens` greedy
 * tokens on the `weft bench` prompt:
 *
 * - `minimal`: the minimal greedy loop (feeds, run, argmax; no Weft code, no RxJS);
 * - `observable`: the same loop inside `new Observable(...)`, each token a `next({ type, index })`
 *   to a subscriber like the bench's (RxJS's subscription and delivery, nothing else);
 * - `weft`: `model.generate(...)`.
 *
 * `--order rotate` (default) runs each engine right after a different one, so its code and data
 * are always cold; `--order repeat` runs each engine twice in a row and times the second run.
 * `weft bench` alternates A/B, B/A and sits between the two. ms/token is each run's median gap
 * between consecutive tokens, then the median over runs.
 *
 * `--collect` (with `node --expose-gc`) runs a full collection before every run, so no run pays
 * for garbage-collection work another left behind. Under other V8 settings (e.g.
 * `node --single-threaded-gc`) the same comparison shows what the GC regime costs each engine.
 *
 *   npx pnpm@10 build
 *   node packages/cli/bench/observable-floor.mjs [--model models/story] [--runs 150] [--tokens 64] [--prompt-tokens 32] [--order rotate|repeat] [--collect]
 */
import { Observable } from 'rxjs';
import * as core from '@weft/core';
import * as backend from '@weft/backend-node';
import { benchPromptIds } from '../dist/bench/bench-prompt.js';
import { commandFlags, minimalGreedyLoop, runSettings } from './minimal-loop.mjs';

const flag = commandFlags();
const { dir, shape, runs, tokens, promptTokens } = runSettings(flag, 150);
const order = flag('order', 'rotate');
if (order !== 'rotate' && order !== 'repeat') throw new Error(`--order must be rotate or repeat (got ${order})`);
const collect = flag.on('collect');
flag.done(import.meta.url);
if (collect && typeof globalThis.gc !== 'function') throw new Error('--collect needs node --expose-gc');

const weft = core.createWeft({ plugins: [backend.nodeBackend()] });
const model = await weft.load(dir, { backend: 'node', session: { intraOpNumThreads: 1 } });
const prompt = benchPromptIds(model.tokenizer, promptTokens);
const session = model.session.ortSession;

/** The median gap between consecutive token times after the first. */
const medianGap = (times) => core.median(times.slice(1).map((t, i) => t - times[i]));

/** Resolves with the time from the call to the first token event of `observable`, and the median gap between later ones. */
const timeTokens = (start, observable) =>
  new Promise((resolve, reject) => {
    const times = [];
    observable.subscribe({
      next(e) {
        if (e.type === 'token') times.push(performance.now());
      },
      complete: () => resolve({ ttft: times[0] - start, gap: medianGap(times) }),
      error: reject,
    });
  });

const engines = {
  minimal: async () => {
    const start = performance.now();
    const times = [];
    await minimalGreedyLoop(session, shape, prompt, tokens, (_t, _runStart, _runEnd, picked) => times.push(picked));
    return { ttft: times[0] - start, gap: medianGap(times) };
  },
  observable: () => {
    const start = performance.now();
    const tokensOf = new Observable((subscriber) => {
      minimalGreedyLoop(session, shape, prompt, tokens, (t) => subscriber.next({ type: 'token', index: t })).then(
        () => subscriber.complete(),
        (error) => subscriber.error(error),
      );
    });
    return timeTokens(start, tokensOf);
  },
  weft: () => {
    const start = performance.now();
    return timeTokens(start, model.generate({ inputIds: [prompt], maxTokens: tokens, temperature: 0, repetitionPenalty: 1, ignoreEos: true }));
  },
};
const names = Object.keys(engines);
const ttft = Object.fromEntries(names.map((n) => [n, []]));
const gaps = Object.fromEntries(names.map((n) => [n, []]));
const warmup = 10;
for (let i = 0; i < warmup + runs; i++) {
  const sequence = names.map((_, k) => names[(i + k) % names.length]);
  for (const name of sequence) {
    if (order === 'repeat') await engines[name]();
    if (collect) globalThis.gc();
    const { ttft: ms, gap } = await engines[name]();
    if (i < warmup) continue;
    ttft[name].push(ms);
    gaps[name].push(gap);
  }
}
const med = Object.fromEntries(names.map((n) => [n, core.median(ttft[n])]));
const gap = Object.fromEntries(names.map((n) => [n, core.median(gaps[n])]));
console.log(`${dir}: prompt ${prompt.length} tokens, ${tokens} tokens per request, ${runs} requests per engine, order ${order}${collect ? ', a full collection before every run' : ''} (medians)`);
for (const n of names) {
  const added = n === 'minimal' ? '' : `   adds ${((med[n] - med.minimal) * 1000).toFixed(0)} µs`;
  const perToken = `   ms/token ${gap[n].toFixed(4)}, / minimal ${(gap[n] / gap.minimal).toFixed(3)}`;
  console.log(`  ${n.padEnd(10)} TTFT ${med[n].toFixed(3)} ms   / minimal ${(med[n] / med.minimal).toFixed(3)}${added.padEnd(16)}${perToken}`);
}
await weft.dispose();
