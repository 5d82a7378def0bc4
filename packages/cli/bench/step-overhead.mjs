#!/usr/bin/env node
/**
 * Where a decode step's time goes outside the forward pass: Weft's loop against a minimal greedy
 * loop on onnxruntime-node (and, with `--baseline DIR`, against the Weft build of another
 * checkout), run by run in rotating order in one process. For each step it takes the gap between
 * consecutive tokens and the time inside session.run, and reports medians over every step of
 * every timed run. Time outside the run is far less noisy than whole-step ratios on a shared
 * machine, because the forward pass (the noisy part) is subtracted step by step.
 *
 *   npx pnpm@10 build
 *   node packages/cli/bench/step-overhead.mjs [--model models/story] [--runs 80] [--tokens 64] [--prompt-tokens 32]
 *                                             [--separate-sessions] [--baseline ../weft-before]
 *
 * The minimal loop is simpler than `weft bench`'s bare loop on purpose (no Weft code at all:
 * feeds, run, argmax). Weft's run time comes from its `metrics` events (forwardMs).
 */
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import * as core from '@weft/core';
import * as backend from '@weft/backend-node';
import { benchPromptIds } from '../dist/bench/bench-prompt.js';
import { commandFlags, importBaseline, minimalGreedyLoop, runSettings } from './minimal-loop.mjs';

const flag = commandFlags();
const { dir, shape, runs, tokens, promptTokens } = runSettings(flag, 80);
const baselineDir = flag('baseline', undefined);
const separate = flag.on('separate-sessions');
flag.done(import.meta.url);
const options = { intraOpNumThreads: 1, interOpNumThreads: 1 };

/** A Weft build's engine: per-step gaps between token events and its forwardMs. */
async function weftEngine(weftCore, weftBackend) {
  const weft = weftCore.createWeft({ plugins: [weftBackend.nodeBackend({ defaults: options })] });
  const model = await weft.load(dir);
  const run = async () => {
    const gaps = [];
    const inRun = [];
    let last = 0;
    await new Promise((done, fail) =>
      model.generate({ inputIds: prompt, maxTokens: tokens, temperature: 0, repetitionPenalty: 1 }).subscribe({
        next(e) {
          if (e.type === 'token') {
            const now = performance.now();
            if (e.index > 0) gaps.push(now - last);
            last = now;
          } else if (e.type === 'metrics' && e.step > 0) inRun.push(e.forwardMs);
        },
        error: fail,
        complete: done,
      }),
    );
    return { gaps, inRun };
  };
  return { model, run, close: () => weft.dispose() };
}

const weft = await weftEngine(core, backend);
const prompt = benchPromptIds(weft.model.tokenizer, promptTokens);
// The minimal loop runs on Weft's own session, as `weft bench` does: with two sessions, whichever
// ran last has its weights in the caches, which moves the other's time inside the run.
const session = separate ? await ort.InferenceSession.create(join(dir, 'onnx/model.onnx'), options) : weft.model.session.ortSession;

// The minimal loop has no EOS check: it generates as many tokens as Weft does.
const count = (await weft.run()).gaps.length + 1;
const bare = {
  async run() {
    const gaps = [];
    const inRun = [];
    let last = 0;
    await minimalGreedyLoop(session, shape, prompt, count, (t, runStart, runEnd, picked) => {
      if (t > 0) {
        gaps.push(picked - last);
        inRun.push(runEnd - runStart);
      }
      last = picked;
    });
    return { gaps, inRun };
  },
  close: () => (separate ? session.release() : undefined),
};

const engines = { bare, weft };
if (baselineDir) {
  const baseline = await importBaseline(baselineDir);
  engines.baseline = await weftEngine(baseline.core, baseline.backend);
}
const names = Object.keys(engines);
const stats = Object.fromEntries(names.map((n) => [n, { gaps: [], outside: [], inRun: [] }]));
const warmup = Math.min(5, Math.floor(runs / 4));
for (let i = 0; i < runs + warmup; i++) {
  for (const name of names.map((_, k) => names[(i + k) % names.length])) {
    const r = await engines[name].run();
    if (i < warmup) continue;
    const into = stats[name];
    into.gaps.push(...r.gaps);
    into.inRun.push(...r.inRun);
    into.outside.push(...r.gaps.map((g, j) => g - r.inRun[j]));
  }
}
for (const e of [...Object.values(engines)].reverse()) await e.close();

const us = (x) => (1000 * core.median(x)).toFixed(1);
const sessions = (separate ? 'separate sessions' : "the minimal loop on Weft's session") + (baselineDir ? ', the baseline on its own' : '');
console.log(`${dir}: ${runs} runs per loop (after ${warmup} warm-up), ${count - 1} decode steps each, prompt ${promptTokens} tokens, 1 thread, ${sessions}`);
console.log(`                 step gap µs   in session.run µs   outside the run µs`);
for (const n of names) {
  const label = n === 'bare' ? 'bare loop' : n;
  console.log(`${label.padEnd(15)}  ${us(stats[n].gaps).padStart(11)}   ${us(stats[n].inRun).padStart(17)}   ${us(stats[n].outside).padStart(18)}`);
}
const adds = (n) => (1000 * (core.median(stats[n].outside) - core.median(stats.bare.outside))).toFixed(1);
console.log(`weft / bare step gap: ${(core.median(stats.weft.gaps) / core.median(stats.bare.gaps)).toFixed(3)}; Weft adds ${adds('weft')} µs outside the run`);
if (baselineDir) console.log(`the baseline adds ${adds('baseline')} µs outside the run`);
