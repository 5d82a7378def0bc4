#!/usr/bin/env node
/**
 * How big V8's old generation is with Weft loaded, and what that does to garbage collection.
 * V8 starts no incremental marking (and so no mark-compact cycle) while the old generation stays
 * under 8 MB; onnxruntime-node alone stays under it, and Weft's modules take a process over it.
 *
 * Default: the old generation (every heap space but the young one) after a full collection,
 * first with onnxruntime-node and a session only, then after importing each of Weft's runtime
 * dependencies, `@weft/core`, and loading the model through Weft.
 *
 * `--requests N`: instead, runs N requests of the minimal greedy loop (no Weft code) and counts
 * the collections V8 reports; `--with-weft` first imports Weft and loads the model through it,
 * so the same loop runs in a process that holds Weft's modules.
 *
 *   npx pnpm@10 build
 *   node --expose-gc packages/cli/bench/heap-footprint.mjs [--model models/story]
 *   node packages/cli/bench/heap-footprint.mjs --requests 150 [--with-weft]
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import ort from 'onnxruntime-node';
import { commandFlags, minimalGreedyLoop, runSettings } from './minimal-loop.mjs';

const flag = commandFlags();
const { dir, shape, tokens, promptTokens } = runSettings(flag, 0);
const requests = Number(flag('requests', '0'));
const withWeft = flag.on('with-weft');
flag.done(import.meta.url);

/** Imports `@weft/core` and `@weft/backend-node` and loads the model through them. */
async function loadWithWeft() {
  const { createWeft } = await import('@weft/core');
  const { nodeBackend } = await import('@weft/backend-node');
  return createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: 1, interOpNumThreads: 1 } })] }).load(dir);
}

if (requests > 0) {
  // With Weft, the loop runs on Weft's own session (as `weft bench` does), else on one of its own.
  const session = withWeft
    ? (await loadWithWeft()).session.ortSession
    : await ort.InferenceSession.create(join(dir, 'onnx/model.onnx'), { intraOpNumThreads: 1 });
  const counts = { scavenge: 0, 'mark-compact': 0 };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) counts['mark-compact']++;
      else if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MINOR) counts.scavenge++;
    }
  }).observe({ entryTypes: ['gc'] });
  // Fixed ids inside the vocabulary: collection counts do not depend on which tokens they are.
  const prompt = Array.from({ length: promptTokens }, (_, i) => 3 + i);
  for (let i = 0; i < requests; i++) await minimalGreedyLoop(session, shape, prompt, tokens, () => {});
  await new Promise((r) => setTimeout(r, 50));
  console.log(`minimal loop, ${requests} requests of ${tokens} tokens, ${withWeft ? 'Weft loaded' : 'onnxruntime-node only'}: ${counts.scavenge} scavenges, ${counts['mark-compact']} mark-compacts`);
} else {
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
  globalThis.session = await ort.InferenceSession.create(join(dir, 'onnx/model.onnx'), { intraOpNumThreads: 1 });
  const oldGeneration = () => {
    globalThis.gc();
    globalThis.gc();
    let bytes = 0;
    for (const space of v8.getHeapSpaceStatistics()) if (space.space_name !== 'new_space') bytes += space.space_used_size;
    return bytes / 1e6;
  };
  let last = oldGeneration();
  const row = (label, size) => console.log(`${label.padEnd(34)} ${size.toFixed(2).padStart(6)} MB  (+${(size - last).toFixed(2)})`);
  row('onnxruntime-node and a session', last);
  // Weft's runtime dependencies, resolved as @weft/core resolves them.
  const fromCore = createRequire(import.meta.resolve('@weft/core'));
  for (const name of ['reflect-metadata', 'inversify', 'rxjs', 'semver', '@huggingface/tokenizers', '@huggingface/jinja', '@weft/core']) {
    await import(name === '@weft/core' ? name : pathToFileURL(fromCore.resolve(name)).href);
    const size = oldGeneration();
    row(`+ ${name}`, size);
    last = size;
  }
  await loadWithWeft();
  row('+ @weft/backend-node, model loaded', oldGeneration());
  console.log('V8 starts incremental marking only above 8 MB of old generation.');
}
