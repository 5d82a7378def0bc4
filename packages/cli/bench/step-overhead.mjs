#!/usr/bin/env node
/**
 * Where a decode step's time goes outside the forward pass: Weft's loop against a minimal greedy
 * loop on onnxruntime-node, alternated run by run in one process. For each step it takes the gap
 * between consecutive tokens and the time inside session.run, and reports medians over every step
 * of every timed run. Time outside the run is far less noisy than whole-step ratios on a shared
 * machine, because the forward pass (the noisy part) is subtracted step by step.
 *
 *   npx pnpm@10 build
 *   node packages/cli/bench/step-overhead.mjs [--model models/story] [--runs 80] [--tokens 64] [--prompt-tokens 16]
 *
 * The baseline is simpler than `weft bench`'s bare loop on purpose (no Weft code at all: feeds,
 * run, argmax). Weft's run time comes from its `metrics` events (forwardMs).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { createWeft, median } from '@weft/core';
import { nodeBackend } from '@weft/backend-node';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
const dir = resolve(root, flag('model', 'models/story'));
const runs = Number(flag('runs', '80'));
const tokens = Number(flag('tokens', '64'));
const promptTokens = Number(flag('prompt-tokens', '16'));
const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
const layers = config.num_hidden_layers;
const kvHeads = config.num_key_value_heads ?? config.num_attention_heads;
const headDim = config.head_dim ?? config.hidden_size / config.num_attention_heads;
const options = { intraOpNumThreads: 1, interOpNumThreads: 1 };

const weft = createWeft({ plugins: [nodeBackend({ defaults: options })] });
const model = await weft.load(dir);
const session = await ort.InferenceSession.create(join(dir, 'onnx/model.onnx'), options);
const prompt = Array.from({ length: promptTokens }, (_, i) => 10 + ((i * 37) % Math.min(500, model.config.vocabSize - 10)));

async function bare() {
  const gaps = [];
  const inRun = [];
  let past = {};
  for (let i = 0; i < layers; i++) for (const k of ['key', 'value']) past[`past_key_values.${i}.${k}`] = new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headDim]);
  let step = prompt;
  let pastLength = 0;
  let last = 0;
  for (let t = 0; t < tokens; t++) {
    const seq = step.length;
    const total = pastLength + seq;
    const feeds = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(step.map(BigInt)), [1, seq]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(total).fill(1n), [1, total]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from(step.map((_, c) => BigInt(pastLength + c))), [1, seq]),
      ...past,
    };
    const start = performance.now();
    const out = await session.run(feeds);
    const end = performance.now();
    const logits = out.logits.data;
    const vocab = out.logits.dims[2];
    const base = (seq - 1) * vocab;
    let best = 0;
    for (let v = 1; v < vocab; v++) if (logits[base + v] > logits[base + best]) best = v;
    past = {};
    for (let i = 0; i < layers; i++) for (const k of ['key', 'value']) past[`past_key_values.${i}.${k}`] = out[`present.${i}.${k}`];
    pastLength = total;
    step = [best];
    const now = performance.now();
    if (t > 0) {
      gaps.push(now - last);
      inRun.push(end - start);
    }
    last = now;
  }
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
await weft.dispose();
await session.release();
const us = (x) => (1000 * median(x)).toFixed(1);
console.log(`${dir}: ${runs} runs per loop (after ${warmup} warm-up), ${tokens - 1} decode steps each, prompt ${promptTokens} tokens, 1 thread`);
console.log(`                 step gap µs   in session.run µs   outside the run µs`);
console.log(`bare loop        ${us(B.gaps).padStart(11)}   ${us(B.inRun).padStart(17)}   ${us(B.outside).padStart(18)}`);
console.log(`weft             ${us(S.gaps).padStart(11)}   ${us(S.inRun).padStart(17)}   ${us(S.outside).padStart(18)}`);
console.log(`weft / bare step gap: ${(median(S.gaps) / median(B.gaps)).toFixed(3)}; Weft adds ${(1000 * (median(S.outside) - median(B.outside))).toFixed(1)} µs outside the run`);
