#!/usr/bin/env node
/**
 * Cost of running a float16 cache (fp16 exports) through a float32 store: the same model with a
 * float32 graph cache and with a float16 one, each with the default store and with compressors,
 * interleaved in one run. Decode steps of `evaluate` (one token per step through the store, as
 * generation does); median ms per step over --repeats rounds. Uses the built packages.
 *
 *   cd models && /usr/bin/python3 -m make fp16-io   # models/bench-story-fp16 (not in git)
 *   node packages/plugins/kv/bench/half-cache.mjs [--model models/story] [--fp16 models/bench-story-fp16]
 *        [--tokens 500] [--repeats 5] [--threads 1] [--help]
 *
 * With the default store a float16 cache is fed back as the graph returns it. @weft/plugin-kv's
 * stores serve it themselves (`float16Cache`: only new tokens are converted). For a store without
 * that flag (here int8 with the flag turned off) core converts each step's presents to float32 for
 * the store, and the store's past to float16 for the graph: the whole cache, both ways, every step.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createWeft } from '@weft/core';
import { nodeBackend } from '@weft/backend-node';
import { Int8KvStore, kvCompressors } from '../dist/index.js';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');
const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/story' },
    fp16: { type: 'string', default: 'models/bench-story-fp16' },
    tokens: { type: 'string', default: '500' },
    repeats: { type: 'string', default: '5' },
    threads: { type: 'string', default: '1' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  const header = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('/**')[1].split('*/')[0];
  console.log(header.split('\n').map((l) => l.replace(/^ \* ?/, '')).join('\n').trim());
  process.exit(0);
}
const weft = createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: Number(args.threads) } }), kvCompressors()] });
const graphs = { float32: await weft.load(resolve(root, args.model)), float16: await weft.load(resolve(root, args.fp16)) };
if (graphs.float16.layout.pastType !== 'float16') throw new Error(`${args.fp16} does not cache as float16; make it with \`/usr/bin/python3 -m make fp16-io\` in models/`);
const text = readFileSync(resolve(root, 'models/story/data/long.txt'), 'utf8');
const ids = graphs.float32.tokenizer.encode(text).slice(0, Number(args.tokens));
/** int8 without float16Cache: core converts the whole cache for it every step. */
const converted = () => Object.assign(new Int8KvStore(), { float16Cache: false });
const stores = ['fp32', 'int8', 'int4', 'int8, converted by core'];
const kvOf = (label) => (label === 'int8, converted by core' ? converted() : label);
const times = {};
for (const g of Object.keys(graphs)) await graphs[g].evaluate({ inputIds: ids.slice(0, 64), kv: 'int8' }); // warm-up
for (let round = 0; round < Number(args.repeats); round++) {
  for (const kv of stores) {
    for (const g of Object.keys(graphs)) {
      const r = await graphs[g].evaluate({ inputIds: ids, kv: kvOf(kv), prefillTokens: 1 });
      (times[`${g} ${kv}`] ??= []).push(r.msPerToken);
    }
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(`${args.model} vs ${args.fp16}, ${ids.length} tokens, median of ${args.repeats} rounds`);
console.log('| store | float32 graph cache, ms/step | float16 graph cache, ms/step | float16 / float32 |');
console.log('| --- | ---: | ---: | ---: |');
for (const kv of stores) {
  const a = median(times[`float32 ${kv}`]);
  const b = median(times[`float16 ${kv}`]);
  console.log(`| ${kv}${kv === 'fp32' ? ' (default, no conversion)' : ''} | ${a.toFixed(3)} | ${b.toFixed(3)} | ${(b / a).toFixed(2)} |`);
}
await weft.dispose();
