#!/usr/bin/env node
/**
 * KV-cache compressors at the end of a long context: at-rest bytes, perplexity and per-token time,
 * each against the float32 cache measured in the same run. Uses the built package (`pnpm run build`).
 *
 *   node packages/plugins/kv/bench/compressors.mjs [--model models/story] [--tokens 1000]
 *        [--threads 1] [--repeats 3] [--json] [--help]
 *
 * Text: models/story/data/long.txt (stories separated by blank lines): the longest story when it
 * has enough tokens, else stories concatenated in file order; cut to --tokens (BOS included).
 * Perplexity runs through the decode path (one token per step through the store), as generation
 * does. Time: median ms per decode step (forward + store) from `evaluate`, and the store's own
 * materialize + append time per token, medians over --repeats interleaved rounds.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createWeft, FullPrecisionKvStore } from '@weft/core';
import { nodeBackend } from '@weft/backend-node';
import { Fp16KvStore, Int4KvStore, Int8KvStore, KiviKvStore, TemporalKvStore } from '../dist/index.js';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');
// Strict: an unknown flag (a typo such as --repeat) is an error, not a default run.
const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/story' },
    tokens: { type: 'string', default: '1000' },
    threads: { type: 'string', default: '1' },
    repeats: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  // The usage is this file's header comment.
  const header = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('/**')[1].split('*/')[0];
  console.log(header.split('\n').map((l) => l.replace(/^ \* ?/, '')).join('\n').trim());
  process.exit(0);
}
const json = args.json;
const modelDir = resolve(root, args.model);
const target = Number(args.tokens);
const threads = Number(args.threads);
const repeats = Number(args.repeats);
const log = (...m) => {
  if (!json) console.error(...m);
};

/** Variants: label, options shown, factory, target (× smaller, max Δ perplexity). */
const VARIANTS = [
  { label: 'fp32', options: '', make: () => new FullPrecisionKvStore() },
  { label: 'fp16', options: '', make: () => new Fp16KvStore() },
  { label: 'int8', options: 'group=64, fp16 scales', make: () => new Int8KvStore(), target: { ratio: 3.4, ppl: 0.005 } },
  { label: 'int4', options: 'group=32, fp16 scales', make: () => new Int4KvStore(), target: { ratio: 5.5, ppl: 0.03 } },
  { label: 'kivi', options: '2-bit, G=32, R=32', make: () => new KiviKvStore(), target: { ratio: 8.5, ppl: 0.1 } },
  { label: 'kivi', options: '2-bit, G=32, R=128', make: () => new KiviKvStore({ residual: 128 }) },
  { label: 'kivi', options: '2-bit, G=32, R=32, fp16 residual', make: () => new KiviKvStore({ residualPrecision: 'fp16' }) },
  { label: 'kivi', options: '4-bit, G=32, R=32', make: () => new KiviKvStore({ bits: 4 }) },
  { label: 'temporal', options: 'fp32=64, int8=256, rest int4', make: () => new TemporalKvStore() },
  // Ablation of KIVI's per-channel keys: 2-bit per token for keys too, same 32-token fp32 window.
  { label: 'temporal', options: 'fp32=32, rest int2 (per-token 2-bit keys)', make: () => new TemporalKvStore({ fp32: 32, rest: 'int2' }) },
];

/** Wraps a store to time its materialize/append/retain and record its working-buffer bytes. */
function timed(store) {
  /** ms in the store, appends, largest working buffers, [slots, bytes] after each append. */
  const stats = { ms: 0, appends: 0, workingBytes: 0, history: [] };
  const clock = (fn) => {
    const t = performance.now();
    const r = fn();
    stats.ms += performance.now() - t;
    return r;
  };
  const wrapper = {
    specificationVersion: 'v1',
    name: store.name,
    get length() {
      return store.length;
    },
    begin: (init) => store.begin(init),
    materialize: () => clock(() => store.materialize()),
    append: (presents) => {
      clock(() => store.append(presents));
      stats.appends++;
      stats.history.push([store.length, store.bytes()]);
      if (typeof store.workingBytes === 'function') stats.workingBytes = Math.max(stats.workingBytes, store.workingBytes());
    },
    bytes: () => store.bytes(),
    slotPositions: () => store.slotPositions?.() ?? [],
    retain: (selection) => clock(() => store.retain(selection)),
    dispose: () => store.dispose(),
  };
  return { wrapper, stats };
}

function pickText(tokenizer) {
  const stories = readFileSync(join(modelDir, 'data/long.txt'), 'utf8')
    .split(/\n\s*\n/)
    .map((s) => s.trim())
    .filter(Boolean);
  const longest = stories.reduce((a, b) => (tokenizer.encode(b).length > tokenizer.encode(a).length ? b : a));
  const ids = tokenizer.encode(longest);
  if (ids.length >= target) return { ids: ids.slice(0, target), source: `longest story (${ids.length} tokens)` };
  let text = '';
  let used = 0;
  for (const s of stories) {
    text = text ? `${text}\n\n${s}` : s;
    used++;
    if (tokenizer.encode(text).length >= target) break;
  }
  const all = tokenizer.encode(text);
  return { ids: all.slice(0, target), source: `${used} stories concatenated in file order (longest story: ${ids.length} tokens)` };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const weft = createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: threads, interOpNumThreads: 1 } })] });
try {
  const model = await weft.load(modelDir);
  const { ids, source } = pickText(model.tokenizer);
  const onnx = join(modelDir, 'onnx/model.onnx');
  const fingerprint = { sha256: createHash('sha256').update(readFileSync(onnx)).digest('hex').slice(0, 16), modified: statSync(onnx).mtime.toISOString() };
  if (ids.length > model.config.maxPositions) throw new Error(`${ids.length} tokens exceed the context (${model.config.maxPositions})`);
  log(`${modelDir}: ${ids.length} tokens from ${source}; ${threads} thread(s), ${repeats} round(s)`);
  await model.evaluate({ inputIds: ids.slice(0, 64) }); // warm-up
  const runs = VARIANTS.map(() => []);
  for (let round = 0; round < repeats; round++) {
    for (const [i, v] of VARIANTS.entries()) {
      const { wrapper, stats } = timed(v.make());
      const r = await model.evaluate({ inputIds: ids, kv: wrapper });
      // Compression over the last 64 tokens: residuals and tiers fill and empty in cycles.
      const perSlot = r.kvBytesFp32 / (ids.length - 1);
      const ratios = stats.history.slice(-64).map(([slots, bytes]) => (slots * perSlot) / bytes);
      runs[i].push({ ...r, storeMs: stats.ms / stats.appends, workingBytes: stats.workingBytes, ratioRange: [Math.min(...ratios), Math.max(...ratios)] });
      log(`round ${round + 1}: ${v.label} ${v.options} ppl ${r.perplexity.toFixed(4)} ${r.msPerToken.toFixed(2)} ms/token`);
    }
  }
  const base = runs[0];
  const baseMs = median(base.map((r) => r.msPerToken));
  const baseStoreMs = median(base.map((r) => r.storeMs));
  const results = VARIANTS.map((v, i) => {
    const r = runs[i];
    const first = r[0];
    const ms = median(r.map((x) => x.msPerToken));
    const storeMs = median(r.map((x) => x.storeMs));
    const ratio = first.kvBytesFp32 / first.kvBytes;
    const dppl = first.perplexity / base[0].perplexity - 1;
    return {
      store: v.label,
      options: v.options,
      kvBytes: first.kvBytes,
      kvBytesFp32: first.kvBytesFp32,
      bytesRelative: first.kvBytes / first.kvBytesFp32,
      timesSmaller: ratio,
      timesSmallerLast64: first.ratioRange,
      workingBytes: first.workingBytes,
      perplexity: first.perplexity,
      perplexityRelative: dppl,
      msPerToken: ms,
      msPerTokenOverhead: ms - baseMs,
      storeMsPerToken: storeMs,
      storeMsPerTokenOverhead: storeMs - baseStoreMs,
      deterministic: r.every((x) => x.perplexity === first.perplexity && x.kvBytes === first.kvBytes),
      ...(v.target
        ? { target: { timesSmaller: v.target.ratio, perplexityRelative: v.target.ppl }, met: ratio >= v.target.ratio && dppl <= v.target.ppl }
        : {}),
    };
  });
  const report = { model: modelDir, modelFile: fingerprint, tokens: ids.length, cachedTokens: ids.length - 1, source, threads, repeats, results };
  if (json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const pct = (x) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)}%`;
    console.log(`KV compressors at ${ids.length - 1} cached tokens (${source}); model.onnx sha256 ${fingerprint.sha256}… (${fingerprint.modified}); ${threads} thread(s), median of ${repeats}\n`);
    console.log('| store | options | at-rest bytes | vs fp32 | × smaller | × over last 64 | perplexity | Δ ppl | ms/token | Δ ms/token | store ms/token | target | met |');
    console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |');
    for (const r of results) {
      const t = r.target ? `≥ ${r.target.timesSmaller}×, Δ ≤ ${(r.target.perplexityRelative * 100).toFixed(1)}%` : '';
      console.log(
        `| ${r.store} | ${r.options} | ${r.kvBytes} | ${(r.bytesRelative * 100).toFixed(1)}% | ${r.timesSmaller.toFixed(2)} | ${r.timesSmallerLast64[0].toFixed(2)}–${r.timesSmallerLast64[1].toFixed(2)} | ${r.perplexity.toFixed(4)} | ${pct(r.perplexityRelative)} | ${r.msPerToken.toFixed(2)} | ${r.msPerTokenOverhead >= 0 ? '+' : ''}${r.msPerTokenOverhead.toFixed(2)} | ${r.storeMsPerToken.toFixed(3)} | ${t} | ${r.target ? (r.met ? 'yes' : 'NO') : ''} |`,
      );
    }
  }
} finally {
  await weft.dispose();
}
