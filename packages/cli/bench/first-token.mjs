#!/usr/bin/env node
/**
 * Time to first token: Weft's `generate` against a minimal greedy onnxruntime-node loop, and
 * optionally against the Weft build of another checkout (`--baseline DIR`, built), alternated
 * request by request in one process in rotating order. Each request generates `--tokens` tokens,
 * so every request starts after a decode phase, as in `weft bench`. Reports median time from the
 * call to the first token and the ratios.
 *
 *   npx pnpm@10 build
 *   node packages/cli/bench/first-token.mjs [--model models/story] [--runs 200] [--tokens 64] [--prompt-tokens 16]
 *                                           [--threads 1] [--baseline ../weft-old]
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ort from 'onnxruntime-node';
import * as core from '@weft/core';
import * as backend from '@weft/backend-node';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
const dir = resolve(root, flag('model', 'models/story'));
const runs = Number(flag('runs', '200'));
const tokens = Number(flag('tokens', '64'));
const promptTokens = Number(flag('prompt-tokens', '16'));
const baselineDir = flag('baseline', undefined);
/** Intra-op threads of every session: one by default, as `weft bench`. */
const session = { intraOpNumThreads: Number(flag('threads', '1')) };
const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
const layers = config.num_hidden_layers;
const kvHeads = config.num_key_value_heads ?? config.num_attention_heads;
const headDim = config.head_dim ?? config.hidden_size / config.num_attention_heads;
const prompt = Array.from({ length: promptTokens }, (_, i) => 10 + ((i * 37) % Math.min(500, config.vocab_size - 10)));

/** A Weft engine: `generate` resolves with the time from the call to the first token event. */
async function weftEngine(weftCore, weftBackend) {
  const weft = weftCore.createWeft({ plugins: [weftBackend.nodeBackend()] });
  const model = await weft.load(dir, { backend: 'node', session });
  const run = () =>
    new Promise((res, rej) => {
      const start = performance.now();
      let first = 0;
      model.generate({ inputIds: [prompt], maxTokens: tokens, temperature: 0, repetitionPenalty: 1 }).subscribe({
        next(e) {
          if (e.type === 'token' && first === 0) first = performance.now() - start;
        },
        complete: () => res(first),
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
    let past = {};
    for (let i = 0; i < layers; i++) for (const k of ['key', 'value']) past[`past_key_values.${i}.${k}`] = new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headDim]);
    let step = prompt;
    let pastLength = 0;
    for (let t = 0; t < tokens; t++) {
      const seq = step.length;
      const total = pastLength + seq;
      const ids = new BigInt64Array(seq);
      const positions = new BigInt64Array(seq);
      for (let c = 0; c < seq; c++) {
        ids[c] = BigInt(step[c]);
        positions[c] = BigInt(pastLength + c);
      }
      const feeds = {
        input_ids: new ort.Tensor('int64', ids, [1, seq]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(total).fill(1n), [1, total]),
        position_ids: new ort.Tensor('int64', positions, [1, seq]),
      };
      Object.assign(feeds, past);
      const out = await bare.run(feeds);
      const logits = out.logits.data;
      const vocab = out.logits.dims[2];
      const base = (seq - 1) * vocab;
      let best = 0;
      for (let v = 1; v < vocab; v++) if (logits[base + v] > logits[base + best]) best = v;
      if (t === 0) first = performance.now() - start;
      past = {};
      for (let i = 0; i < layers; i++) for (const k of ['key', 'value']) past[`past_key_values.${i}.${k}`] = out[`present.${i}.${k}`];
      pastLength = total;
      step = [best];
    }
    return first;
  };
  return { run, close: () => bare.release() };
}

const engines = { weft: await weftEngine(core, backend), bare: await bareEngine() };
if (baselineDir) {
  const base = resolve(baselineDir);
  const url = (p) => pathToFileURL(join(base, p)).href;
  engines.baseline = await weftEngine(await import(url('packages/core/dist/index.js')), await import(url('packages/backends/node/dist/index.js')));
}
const names = Object.keys(engines);
const ttft = Object.fromEntries(names.map((n) => [n, []]));
const warmup = 10;
for (let i = 0; i < warmup + runs; i++) {
  // Rotate which engine goes first, so each follows each other equally often.
  const order = names.map((_, k) => names[(i + k) % names.length]);
  for (const name of order) {
    const ms = await engines[name].run();
    if (i >= warmup) ttft[name].push(ms);
  }
}
const med = Object.fromEntries(names.map((n) => [n, core.median(ttft[n])]));
console.log(`model ${dir}, prompt ${promptTokens} tokens, ${tokens} tokens per request, ${session.intraOpNumThreads} intra-op thread(s), ${runs} requests per engine (median)`);
for (const n of names) console.log(`  ${n.padEnd(9)} TTFT ${med[n].toFixed(3)} ms   / bare ${(med[n] / med.bare).toFixed(3)}`);
if (baselineDir) console.log(`  weft / baseline ${(med.weft / med.baseline).toFixed(3)}; Weft's added time ${((med.weft - med.bare) * 1000).toFixed(0)} µs against the baseline's ${((med.baseline - med.bare) * 1000).toFixed(0)} µs`);
for (const e of Object.values(engines)) await e.close();
