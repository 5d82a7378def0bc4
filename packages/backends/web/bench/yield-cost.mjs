#!/usr/bin/env node
/**
 * What the web backend's wait after each run costs (`yieldToEventLoop`, one macrotask), with
 * nothing else queued: median µs per await over `--repeats` blocks of `--awaits`.
 *
 *   npx tsc -b packages/core packages/backends/web
 *   node packages/backends/web/bench/yield-cost.mjs [--awaits 20000] [--repeats 7]
 */
import { parseArgs } from 'node:util';
import { scriptUsage } from '../../../../scripts/script-usage.mjs';
import { yieldToEventLoop } from '../dist/yield-to-event-loop.js';

const { values } = parseArgs({ options: { awaits: { type: 'string', default: '20000' }, repeats: { type: 'string', default: '7' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  console.log(scriptUsage(import.meta.url));
  process.exit(0);
}
const awaits = Number(values.awaits);
const repeats = Number(values.repeats);
const perAwait = [];
for (let r = 0; r < repeats; r++) {
  const start = performance.now();
  for (let i = 0; i < awaits; i++) await yieldToEventLoop();
  perAwait.push(((performance.now() - start) / awaits) * 1000);
}
perAwait.sort((a, b) => a - b);
console.log(`yieldToEventLoop: ${perAwait[perAwait.length >> 1].toFixed(2)} µs per await (median of ${repeats} blocks of ${awaits}; all: ${perAwait.map((x) => x.toFixed(2)).join(' ')})`);
