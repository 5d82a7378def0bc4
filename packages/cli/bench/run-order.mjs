#!/usr/bin/env node
/**
 * Splits a `weft bench --json` report's timed runs by what ran just before each: timed pairs run
 * A/B, B/A, A/B…, so Weft's runs in even pairs follow a Weft run and those in odd pairs a bare
 * run (and the other way round for the bare loop); the first timed pair follows the last warm-up
 * pair, whichever that ended with. Prints the median ms/token and TTFT of each
 * group: a gap between the groups is cost one loop leaves to whatever runs next (e.g. garbage
 * collected during the next run).
 *
 *   node packages/cli/dist/bin.js bench --model models/story --runs 200 --json > bench.json
 *   node packages/cli/bench/run-order.mjs bench.json
 */
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (file === '--help' || file === '-h') {
  console.log('Splits a `weft bench --json` report\'s timed runs by what ran just before each.\nusage: node packages/cli/bench/run-order.mjs REPORT.json (from weft bench --json)');
  process.exit(0);
}
if (!file) {
  console.error('usage: node packages/cli/bench/run-order.mjs REPORT.json (from weft bench --json)');
  process.exit(2);
}
const report = JSON.parse(readFileSync(file, 'utf8'));
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
/**
 * What ran just before each timed run, from the bench's order: warm-up pairs and timed pairs each
 * start with A/B (Weft first) and alternate, so the first run of a timed pair follows the second
 * run of the pair before it, warm-up included. A run with nothing before it (the first timed pair
 * with no warm-up) is left out of every group.
 */
const sequence = [];
const warmup = report.warmup ?? 0;
for (let pair = 0; pair < warmup + report.runs; pair++) {
  const timed = pair >= warmup;
  const index = timed ? pair - warmup : pair;
  const order = index % 2 === 0 ? ['weft', 'bare'] : ['bare', 'weft'];
  for (const engine of order) sequence.push({ engine, pair: timed ? index : undefined });
}
/** Timed runs of `engine` that followed a run of `previous`. */
const group = (engine, previous) =>
  sequence.flatMap((run, i) => (run.engine === engine && run.pair !== undefined && i > 0 && sequence[i - 1].engine === previous ? [report[engine].runs[run.pair]] : []));
const describe = (runs) => runs.length === 0 ? 'no runs' : `ms/token ${median(runs.map((r) => r.msPerToken)).toFixed(4)}, TTFT ${median(runs.map((r) => r.ttftMs)).toFixed(3)} ms (${runs.length} runs)`;
console.log(`${report.model}: ${report.runs} timed pairs, ${report.tokens} tokens per run`);
console.log(`weft after weft: ${describe(group('weft', 'weft'))}`);
console.log(`weft after bare: ${describe(group('weft', 'bare'))}`);
console.log(`bare after bare: ${describe(group('bare', 'bare'))}`);
console.log(`bare after weft: ${describe(group('bare', 'weft'))}`);
