#!/usr/bin/env node
/**
 * What one small piece of JavaScript costs right after onnxruntime ran, against the same piece
 * run twice in a row (warm). Explains why per-request code on the path to the first token costs
 * far more than its warm timing suggests: after a forward pass, each operation the request setup
 * touches for the first time in a while runs cold.
 *
 *   node packages/cli/bench/cold-cost.mjs [--model models/story] [--runs 200] [--between forward|sweep]
 *
 * `--between sweep` reads 64 MB of memory instead of running forward passes before each cold
 * call: a check that evicting data from the caches is not what makes the code slow.
 */
import { join, resolve } from 'node:path';
import ort from 'onnxruntime-node';
import { cacheShape, commandFlags, emptyPast, repoRoot } from './minimal-loop.mjs';

const flag = commandFlags();
const dir = resolve(repoRoot, flag('model', 'models/story'));
const runs = Number(flag('runs', '200'));
const between = flag('between', 'forward');
flag.done(import.meta.url);
if (between !== 'forward' && between !== 'sweep') throw new Error('--between must be forward or sweep');
const sweepBuffer = new Float32Array(between === 'sweep' ? 16 * 1024 * 1024 : 0);
/** Reads one float per 64-byte line of the buffer. */
const sweep = () => {
  let sum = 0;
  for (let i = 0; i < sweepBuffer.length; i += 16) sum += sweepBuffer[i];
  sweepBuffer[0] = sum;
};
const session = await ort.InferenceSession.create(join(dir, 'onnx/model.onnx'), { intraOpNumThreads: 1 });
const past = emptyPast(cacheShape(dir));
const forward = () =>
  session.run({
    ...past,
    input_ids: new ort.Tensor('int64', BigInt64Array.from([1n, 2n, 3n]), [1, 3]),
    attention_mask: new ort.Tensor('int64', BigInt64Array.from([1n, 1n, 1n]), [1, 3]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from([0n, 1n, 2n]), [1, 3]),
  });

class Small {
  constructor(a) {
    this.a = a;
    this.b = 0;
    this.c = [];
  }
}
const ids = Array.from({ length: 16 }, (_, i) => 10 + i);
const map = new WeakMap([[ids, 1]]);
const pieces = {
  'empty call': (a) => a,
  'object literal': (a) => ({ a, b: 1, c: 2 }),
  'Array.isArray': (a) => Array.isArray(a),
  'WeakMap get': (a) => map.get(a),
  'indexed loop, 16 ids': (a) => {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i];
    return s;
  },
  'for-of loop, 16 ids': (a) => {
    let s = 0;
    for (const x of a) s += x;
    return s;
  },
  'slice of 16 ids': (a) => a.slice(),
  'map over 16 ids': (a) => a.map((x) => x + 1),
  'new of a small class': (a) => new Small(a),
};
const names = Object.keys(pieces);
const cold = Object.fromEntries(names.map((n) => [n, []]));
const warm = Object.fromEntries(names.map((n) => [n, []]));
const time = (fn) => {
  const t = performance.now();
  fn(ids);
  return (performance.now() - t) * 1000;
};
for (let i = 0; i < runs; i++) {
  for (const name of names) {
    if (between === 'sweep') sweep();
    else for (let k = 0; k < 10; k++) await forward();
    cold[name].push(time(pieces[name]));
    warm[name].push(time(pieces[name]));
  }
}
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const before = between === 'sweep' ? 'a 64 MB memory sweep' : '10 forward passes';
console.log(`median µs per call over ${runs} calls: right after ${before} (cold), then again at once (warm)`);
for (const name of names) console.log(`  ${name.padEnd(22)} cold ${median(cold[name]).toFixed(2).padStart(6)}   warm ${median(warm[name]).toFixed(2).padStart(6)}`);
