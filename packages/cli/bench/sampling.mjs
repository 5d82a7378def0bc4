#!/usr/bin/env node
/**
 * What core's sampling steps cost per token at real vocabulary sizes: the request defaults
 * (temperature 0.8 then top-k 50, as transformers samples), top-p 0.9, min-p 0.05, and the draw,
 * each on a fresh copy of one row of synthetic logits (a long-tailed distribution: Gumbel noise
 * over a Zipf-like slope), medians of `--runs` calls per step. Uses the built core
 * (`npx pnpm@10 build`); the same steps the generation loop runs (generation/sampling/*).
 *
 *   node packages/cli/bench/sampling.mjs [--runs 200]
 */
import { applyMinP, applyTemperature, applyTopK, applyTopP, median, sampleCategorical, seededRandom } from '@weft/core';
import { commandFlags } from './minimal-loop.mjs';

const flag = commandFlags();
const runs = Number(flag('runs', '200'));
flag.done(import.meta.url);

const random = seededRandom(7);
/** One row of `vocab` logits with a long tail, as a language model's next-token row has. */
function row(vocab) {
  const out = new Float32Array(vocab);
  for (let i = 0; i < vocab; i++) out[i] = -Math.log(1 + i) * 1.2 - Math.log(-Math.log(random() + 1e-12));
  // Shuffle positions so the order of ids says nothing about the order of logits.
  for (let i = vocab - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const steps = {
  'temperature 0.8 + top-k 50 (default)': (l) => {
    applyTemperature(l, 0.8);
    applyTopK(l, 50);
  },
  'top-p 0.9': (l) => applyTopP(l, 0.9),
  'min-p 0.05': (l) => applyMinP(l, 0.05),
  'draw (sampleCategorical)': (l) => sampleCategorical(l, random()),
};

console.log(`median µs per call over ${runs} calls (a fresh copy of the row each call, copy not counted)`);
console.log(`| vocabulary | ${Object.keys(steps).join(' | ')} |`);
console.log(`| ---: | ${Object.keys(steps).map(() => '---:').join(' | ')} |`);
for (const vocab of [1024, 32000, 128256]) {
  const base = row(vocab);
  const cells = [];
  for (const step of Object.values(steps)) {
    const times = [];
    for (let r = 0; r < runs + 10; r++) {
      const l = base.slice();
      const t = performance.now();
      step(l);
      if (r >= 10) times.push((performance.now() - t) * 1000);
    }
    cells.push(median(times).toFixed(1));
  }
  console.log(`| ${vocab.toLocaleString('en-US')} | ${cells.join(' | ')} |`);
}
