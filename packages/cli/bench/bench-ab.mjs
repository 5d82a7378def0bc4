#!/usr/bin/env node
/**
 * `weft bench` of this checkout and of another one (built), invocation by invocation in turn, so
 * both see the same hours of a shared machine: whole-bench ratios drift by a few percent between
 * invocations, more than most changes move them. Prints each invocation's ms/token and TTFT
 * ratios and Weft's added time, then the medians per checkout.
 *
 *   npx pnpm@10 build            # here and in the other checkout
 *   node packages/cli/bench/bench-ab.mjs --baseline ../weft-before [--invocations 8] [--model models/story] [--runs 200]
 *                                         [--tokens 64] [--prompt-tokens 32]
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { commandFlags, repoRoot } from './minimal-loop.mjs';

const flag = commandFlags();
const baseline = flag('baseline', undefined);
const invocations = Number(flag('invocations', '8'));
const model = resolve(repoRoot, flag('model', 'models/story'));
const benchArgs = ['bench', '--model', model, '--runs', flag('runs', '200'), '--tokens', flag('tokens', '64'), '--prompt-tokens', flag('prompt-tokens', '32'), '--json'];
flag.done(import.meta.url);
if (baseline === undefined) throw new Error('--baseline DIR (another checkout, built) is required');
const checkouts = { this: repoRoot, baseline: resolve(baseline) };

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const results = { this: [], baseline: [] };
console.log('checkout   ms/token ratio   TTFT ratio   adds per token   adds to first token');
for (let i = 0; i < invocations; i++) {
  // Alternate which checkout goes first.
  const order = i % 2 === 0 ? ['this', 'baseline'] : ['baseline', 'this'];
  for (const name of order) {
    const run = spawnSync(process.execPath, [join(checkouts[name], 'packages/cli/dist/bin.js'), ...benchArgs], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`weft bench in ${checkouts[name]} failed: ${run.stderr}`);
    const report = JSON.parse(run.stdout);
    const row = { ms: report.ratio.msPerToken, ttft: report.ratio.ttftMs, perToken: report.added.msPerToken * 1000, first: report.added.ttftMs * 1000 };
    results[name].push(row);
    console.log(`${name.padEnd(9)}  ${row.ms.toFixed(4).padStart(14)}   ${row.ttft.toFixed(4).padStart(10)}   ${row.perToken.toFixed(1).padStart(11)} µs   ${row.first.toFixed(0).padStart(16)} µs`);
  }
}
console.log(`medians over ${invocations} invocations each (${model}):`);
for (const name of ['this', 'baseline']) {
  const r = results[name];
  const under = r.filter((x) => x.ms <= 1.03).length;
  console.log(
    `  ${name.padEnd(9)} ms/token ${median(r.map((x) => x.ms)).toFixed(4)} (${under} of ${r.length} within 3%), TTFT ${median(r.map((x) => x.ttft)).toFixed(4)}, ` +
      `adds ${median(r.map((x) => x.perToken)).toFixed(1)} µs per token and ${median(r.map((x) => x.first)).toFixed(0)} µs to the first`,
  );
}
