#!/usr/bin/env node
/**
 * Time to first token: Weft's `generate` against a minimal greedy onnxruntime-node loop, and
 * optionally against the Weft build of another checkout (`--baseline DIR`, built), in one process
 * in rotating order. Each engine has its own session, and each timed request follows an untimed
 * one of the same engine: a request right after another session's starts with that session's
 * weights in the caches, and its prefill is much slower (docs/benchmarks.md). Each request
 * generates `--tokens` tokens, as in `weft bench`, on the prompt `weft bench` uses. Reports median
 * time from the call to the first token and the ratios.
 *
 *   npx pnpm@10 build
 *   node packages/cli/bench/first-token.mjs [--model models/story] [--runs 200] [--tokens 64] [--prompt-tokens 32]
 *                                           [--prompt TEXT] [--threads 1] [--baseline ../weft-old]
 */
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import * as core from '@weft/core';
import * as backend from '@weft/backend-node';
import { benchPromptIds } from '../dist/bench/bench-prompt.js';
import { commandFlags, importBaseline, minimalGreedyLoop, runSettings } from './minimal-loop.mjs';

const flag = commandFlags();
const { dir, shape, runs, tokens, promptTokens } = runSettings(flag, 200);
const baselineDir = flag('baseline', undefined);
/** `--prompt TEXT`: this text (with the tokenizer's special tokens) instead of the `weft bench` prompt. */
const promptText = flag('prompt', undefined);
/** Intra-op threads of every session: one by default, as `weft bench`. */
const session = { intraOpNumThreads: Number(flag('threads', '1')) };
flag.done(import.meta.url);

/**
 * A Weft engine: `run` resolves with the time from the call to the first token event and step 0's
 * `setupMs` (builds that report it).
 */
async function weftEngine(weftCore, weftBackend) {
  const weft = weftCore.createWeft({ plugins: [weftBackend.nodeBackend()] });
  const model = await weft.load(dir, { backend: 'node', session });
  prompt ??= promptText === undefined ? benchPromptIds(model.tokenizer, promptTokens) : model.tokenizer.encode(promptText);
  const run = () =>
    new Promise((res, rej) => {
      const start = performance.now();
      let first = 0;
      let setup;
      model.generate({ inputIds: [prompt], maxTokens: tokens, temperature: 0, repetitionPenalty: 1 }).subscribe({
        next(e) {
          if (e.type === 'token' && first === 0) first = performance.now() - start;
          else if (e.type === 'metrics' && e.step === 0) setup = e.setupMs;
        },
        complete: () => res({ ttft: first, setup }),
        error: rej,
      });
    });
  return { run, close: () => weft.dispose() };
}

async function bareEngine() {
  const bare = await ort.InferenceSession.create(join(dir, 'onnx/model.onnx'), session);
  const run = async () => {
    const start = performance.now();
    let first = 0;
    await minimalGreedyLoop(bare, shape, prompt, tokens, (t, _runStart, _runEnd, picked) => {
      if (t === 0) first = picked - start;
    });
    return { ttft: first, setup: undefined };
  };
  return { run, close: () => bare.release() };
}

/** The `weft bench` prompt, made with the first Weft engine's tokenizer. */
let prompt;
const setupMs = { weft: [], baseline: [] };
const engines = { weft: await weftEngine(core, backend), bare: await bareEngine() };
if (baselineDir) {
  const baseline = await importBaseline(baselineDir);
  engines.baseline = await weftEngine(baseline.core, baseline.backend);
}
const names = Object.keys(engines);
const ttft = Object.fromEntries(names.map((n) => [n, []]));
const warmup = 10;
for (let i = 0; i < warmup + runs; i++) {
  // Rotate which engine goes first, so no engine always runs right after the same other one.
  const order = names.map((_, k) => names[(i + k) % names.length]);
  for (const name of order) {
    await engines[name].run(); // untimed: puts this engine's session in the caches
    const { ttft: ms, setup } = await engines[name].run();
    if (i < warmup) continue;
    ttft[name].push(ms);
    if (setup !== undefined) setupMs[name].push(setup);
  }
}
const med = Object.fromEntries(names.map((n) => [n, core.median(ttft[n])]));
console.log(`model ${dir}, prompt ${prompt.length} tokens${promptText === undefined ? '' : ` (${JSON.stringify(promptText)})`}, ${tokens} tokens per request, ${session.intraOpNumThreads} intra-op thread(s), ${runs} requests per engine (median)`);
for (const n of names) {
  const timed = setupMs[n] ?? [];
  const setup = timed.length > 0 ? `   setup before the forward pass ${(core.median(timed) * 1000).toFixed(0)} µs` : '';
  console.log(`  ${n.padEnd(9)} TTFT ${med[n].toFixed(3)} ms   / bare ${(med[n] / med.bare).toFixed(3)}${setup}`);
}
if (baselineDir) console.log(`  weft / baseline ${(med.weft / med.baseline).toFixed(3)}; Weft's added time ${((med.weft - med.bare) * 1000).toFixed(0)} µs against the baseline's ${((med.baseline - med.bare) * 1000).toFixed(0)} µs`);
for (const e of Object.values(engines)) await e.close();
