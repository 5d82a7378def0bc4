#!/usr/bin/env node
/**
 * Bytes allocated per decode step by Weft's loop and by the minimal greedy loop on the same
 * session, from V8's sampling heap profiler (every allocation counted, collected ones included),
 * with the functions that allocate most. Sampling makes the runs slow: read bytes, not times.
 *
 *   npx pnpm@10 build
 *   node packages/cli/bench/step-allocations.mjs [--model models/story] [--runs 100] [--tokens 64] [--prompt-tokens 32] [--top 12]
 */
import { Session } from 'node:inspector/promises';
import { createWeft } from '@weft/core';
import { nodeBackend } from '@weft/backend-node';
import { benchPromptIds } from '../dist/bench/bench-prompt.js';
import { commandFlags, minimalGreedyLoop, runSettings } from './minimal-loop.mjs';

const flag = commandFlags();
const { dir, shape, runs, tokens, promptTokens } = runSettings(flag, 100);
const top = Number(flag('top', '12'));
flag.done(import.meta.url);
const weft = createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: 1 } })] });
const model = await weft.load(dir);
const prompt = benchPromptIds(model.tokenizer, promptTokens);
const engines = {
  weft: () =>
    new Promise((complete, error) =>
      model.generate({ inputIds: [prompt], maxTokens: tokens, temperature: 0, repetitionPenalty: 1, ignoreEos: true }).subscribe({ complete, error }),
    ),
  minimal: () => minimalGreedyLoop(model.session.ortSession, shape, prompt, tokens, () => {}),
};
const inspector = new Session();
inspector.connect();
console.log(`${dir}: ${runs} requests per loop, ${tokens} tokens each, prompt ${promptTokens} tokens; bytes per step (all steps, prefill included)`);
for (const [name, run] of Object.entries(engines)) {
  for (let i = 0; i < 20; i++) await run(); // warm, so the profile holds steady-state allocations
  await inspector.post('HeapProfiler.startSampling', { samplingInterval: 32, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  for (let i = 0; i < runs; i++) await run();
  const { profile } = await inspector.post('HeapProfiler.stopSampling');
  const steps = runs * tokens;
  const bySite = new Map();
  let total = 0;
  (function walk(node) {
    const frame = node.callFrame;
    const site = `${frame.functionName || '(anonymous)'} ${frame.url.split('/').slice(-2).join('/')}:${frame.lineNumber + 1}`;
    bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
    total += node.selfSize;
    node.children.forEach(walk);
  })(profile.head);
  console.log(`\n${name}: ${Math.round(total / steps)} bytes per step`);
  for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${String(Math.round(bytes / steps)).padStart(6)}  ${site}`);
}
inspector.disconnect();
await weft.dispose();
