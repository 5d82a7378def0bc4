#!/usr/bin/env node
// Node (onnxruntime-node, native CPU) vs web (onnxruntime-web, wasm) decode speed, side by side in
// one process, on the same prompt ids and thread count. Greedy decoding; runs alternate A/B, B/A…
// so neither backend always runs warm. Reports medians over the timed runs.
//
//   npx tsc -b packages/core packages/backends/node packages/backends/web
//   node packages/backends/web/bench/node-vs-web.mjs [--model DIR]... [--tokens 64] [--runs 5] [--warmup 1] [--threads 1] [--prompt-tokens 16] [--json]
//
// Without --model it measures models/story when that folder exists, else the tiny fixture and
// shared/models/stories260k.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { scriptUsage } from '../../../../scripts/script-usage.mjs';
import { nodeBackend } from '@weft/backend-node';
import { webBackend } from '@weft/backend-web';
import { createWeft, median } from '@weft/core';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const { values } = parseArgs({
  options: {
    model: { type: 'string', multiple: true },
    tokens: { type: 'string', default: '64' },
    runs: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    threads: { type: 'string', default: '1' },
    'prompt-tokens': { type: 'string', default: '16' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(scriptUsage(import.meta.url));
  process.exit(0);
}
const int = (name) => {
  const v = Number(values[name]);
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} must be an integer >= 0`);
  return v;
};
const tokens = int('tokens');
const runs = int('runs');
const warmup = int('warmup');
const threads = int('threads');
const promptTokens = int('prompt-tokens');

const isModel = (dir) => existsSync(`${dir}/config.json`) && existsSync(`${dir}/onnx/model.onnx`);
const defaults = isModel(`${root}models/story`)
  ? [`${root}models/story`]
  : [`${root}packages/core/test/fixtures/tiny`, `${root}../shared/models/stories260k`].filter(isModel);
const models = values.model ?? defaults;

const SENTENCE = 'Once upon a time, there was a little girl named Lily. She liked to play in the park with her dog. ';

function greedy(model, ids) {
  return new Promise((resolve, reject) => {
    model.generate({ inputIds: ids, maxTokens: tokens, temperature: 0, repetitionPenalty: 1 }).subscribe({
      next: (e) => e.type === 'done' && resolve({ ids: [...e.rows[0].ids], msPerToken: e.msPerToken, ttftMs: e.ttftMs }),
      error: reject,
    });
  });
}

const weft = createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: threads } }), webBackend({ numThreads: threads || 0 })] });
const results = [];
try {
  for (const dir of models) {
    const onNode = await weft.load(dir, { backend: 'node' });
    const onWeb = await weft.load(dir, { backend: 'web' });
    let text = SENTENCE;
    while (onNode.tokenizer.encode(text).length < promptTokens) text += SENTENCE;
    const ids = onNode.tokenizer.encode(text).slice(0, promptTokens);
    const timed = { node: [], web: [] };
    let idsMatch = true;
    let reference;
    for (let pair = 0; pair < warmup + runs; pair++) {
      const order = pair % 2 === 0 ? ['node', 'web'] : ['web', 'node'];
      for (const backend of order) {
        const run = await greedy(backend === 'node' ? onNode : onWeb, ids);
        reference ??= run.ids;
        if (JSON.stringify(run.ids) !== JSON.stringify(reference)) idsMatch = false;
        if (pair >= warmup) timed[backend].push(run);
      }
    }
    const summary = (list) => ({ msPerToken: median(list.map((r) => r.msPerToken)), ttftMs: median(list.map((r) => r.ttftMs)), runs: list.map((r) => +r.msPerToken.toFixed(3)) });
    const node = summary(timed.node);
    const web = summary(timed.web);
    results.push({ model: dir.replace(root, ''), params: onNode.config, generated: reference.length, node, web, ratio: web.msPerToken / node.msPerToken, idsMatch });
    await onNode.dispose();
    await onWeb.dispose();
  }
} finally {
  await weft.dispose();
}

if (values.json) {
  console.log(JSON.stringify({ tokens, runs, warmup, threads, promptTokens, node: process.version, results: results.map(({ params, ...r }) => r) }, null, 2));
} else {
  console.log(`node ${process.version}, ${threads} thread(s), prompt ${promptTokens} tokens, ${tokens} new tokens, ${runs} timed runs (+${warmup} warm-up) per backend, greedy`);
  console.log('| model | node ms/token | web (wasm) ms/token | web / node | node TTFT ms | web TTFT ms | same ids |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const r of results) {
    console.log(`| ${r.model} | ${r.node.msPerToken.toFixed(3)} | ${r.web.msPerToken.toFixed(3)} | ${r.ratio.toFixed(2)}x | ${r.node.ttftMs.toFixed(1)} | ${r.web.ttftMs.toFixed(1)} | ${r.idsMatch ? 'yes' : 'NO'} |`);
  }
  for (const r of results) console.log(`${r.model}: ${r.generated} tokens/run; node runs ${r.node.runs.join(', ')}; web runs ${r.web.runs.join(', ')}`);
}
