#!/usr/bin/env node
/**
 * Where a decode step's time goes outside the forward pass: Weft's loop against a minimal greedy
 * loop on onnxruntime-node, alternated run by run in one process. For each step it takes the gap
 * between consecutive tokens and the time inside session.run, and reports medians over every step
 * of every timed run. Time outside the run is far less noisy than whole-step ratios on a shared
 * machine, because the forward pass (the noisy part) is subtracted step by step.
 *
 *   npx pnpm@10 build
 *   node packages/cli/bench/step-overhead.mjs [--model models/story] [--runs 80] [--tokens 64] [--prompt-tokens 32] [--separate-sessions]
 *
 * The baseline is simpler than `weft bench`'s bare loop on purpose (no Weft code at all: feeds,
 * run, argmax). Weft's run time comes from its `metrics` events (forwardMs).
 */
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { createWeft, median } from '@weft/core';
import { nodeBackend } from '@weft/backend-node';
import { benchPromptIds } from '../dist/bench/bench-prompt.js';
import { commandFlags, minimalGreedyLoop, runSettings } from './minimal-loop.mjs';

const flag = commandFlags();
const { dir, shape, runs, tokens, promptTokens } = runSettings(flag, 80);
const options = { intraOpNumThreads: 1, interOpNumThreads: 1 };

const weft = createWeft({ plugins: [nodeBackend({ defaults: options })] });
const model = await weft.load(dir);
// The minimal loop runs on Weft's own session, as `weft bench` does: with two sessions, whichever
// ran last has its weights in the caches, which moves the other's time inside the run.
const session = !process.argv.includes('--separate-sessions') ? model.session.ortSession : await ort.InferenceSession.create(join(dir, 'onnx/model.onnx'), options);
const ownSession = session !== model.session.ortSession;
const prompt = benchPromptIds(model.tokenizer, promptTokens);

async function bare() {
  const gaps = [];
  const inRun = [];
  let last = 0;
  await minimalGreedyLoop(session, shape, prompt, tokens, (t, runStart, runEnd, picked) => {
    if (t > 0) {
      gaps.push(picked - last);
      inRun.push(runEnd - runStart);
    }
    last = picked;
  });
  return { gaps, inRun };
}

async function sdk() {
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
}

const B = { gaps: [], outside: [], inRun: [] };
const S = { gaps: [], outside: [], inRun: [] };
const warmup = Math.min(5, Math.floor(runs / 4));
for (let i = 0; i < runs + warmup; i++) {
  const order = i % 2 === 0 ? [[bare, B], [sdk, S]] : [[sdk, S], [bare, B]];
  for (const [run, into] of order) {
    const r = await run();
    if (i < warmup) continue;
    into.gaps.push(...r.gaps);
    into.inRun.push(...r.inRun);
    into.outside.push(...r.gaps.map((g, j) => g - r.inRun[j]));
  }
}
if (ownSession) await session.release();
await weft.dispose();
const us = (x) => (1000 * median(x)).toFixed(1);
console.log(`${dir}: ${runs} runs per loop (after ${warmup} warm-up), ${tokens - 1} decode steps each, prompt ${promptTokens} tokens, 1 thread, ${ownSession ? 'separate sessions' : 'one shared session'}`);
console.log(`                 step gap µs   in session.run µs   outside the run µs`);
console.log(`bare loop        ${us(B.gaps).padStart(11)}   ${us(B.inRun).padStart(17)}   ${us(B.outside).padStart(18)}`);
console.log(`weft             ${us(S.gaps).padStart(11)}   ${us(S.inRun).padStart(17)}   ${us(S.outside).padStart(18)}`);
console.log(`weft / bare step gap: ${(median(S.gaps) / median(B.gaps)).toFixed(3)}; Weft adds ${(1000 * (median(S.outside) - median(B.outside))).toFixed(1)} µs outside the run`);
