#!/usr/bin/env node
/**
 * Splits a `weft bench --json` report's timed runs by what ran just before each: timed pairs run
 * A/B, B/A, A/B…, so Weft's runs in even pairs follow a Weft run and those in odd pairs a bare
 * run (and the other way round for the bare loop). Prints the median ms/token and TTFT of each
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
/** Runs of `engine` in the pairs where it ran first (`first`) or second. */
const group = (engine, first) => report[engine].runs.filter((_, pair) => (pair % 2 === 0) === (engine === 'weft' ? first : !first));
const describe = (runs) => `ms/token ${median(runs.map((r) => r.msPerToken)).toFixed(4)}, TTFT ${median(runs.map((r) => r.ttftMs)).toFixed(3)} ms (${runs.length} runs)`;
console.log(`${report.model}: ${report.runs} timed pairs, ${report.tokens} tokens per run`);
console.log(`weft after weft: ${describe(group('weft', true))}`);
console.log(`weft after bare: ${describe(group('weft', false))}`);
console.log(`bare after bare: ${describe(group('bare', true))}`);
console.log(`bare after weft: ${describe(group('bare', false))}`);
