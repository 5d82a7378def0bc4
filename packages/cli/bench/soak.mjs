#!/usr/bin/env node
/**
 * Long-run soak: does a process that serves a mixed workload for a long time stay flat? Loads the
 * model through Weft (node backend, `kvCompressors()`, `attentionRouters()` and a small plugin of
 * this script's), twice: the plain graph and `onnx/model_with_attentions.onnx` (for the routers
 * and analyzers that read attention; a model without it skips them). Then runs rounds of
 * requests, 3 at a time (`--concurrency`), each request drawn from its own generator (seeded by
 * `--seed` and its index, so a run is reproducible up to timing; only the aborts fired by a timer
 * depend on it):
 *
 *   greedy and sampled requests; batches of 2-4 prompts of different lengths (left padding);
 *   stop strings (fixed ones, and words drawn from the stories as users' own); chat `messages`;
 *   `text()`; KV stores by name with options (fp16, int8, int4, kivi, temporal) and as instances
 *   reused one run after another; routers (sink-window, window, strided, key-norm, content-aware,
 *   heavy-hitter and hybrid with attention-importance on the attention graph) with small budgets
 *   so they evict, some with positions=cache; streams read with for-await and left early;
 *   subscriptions unsubscribed after k tokens; AbortSignal aborts after k tokens, from a timer
 *   (mid forward pass) or before the run; a plugin logits processor, and a processor instance,
 *   that throw at a random step; `evaluate()` (perplexity) with stores, routers and aborts;
 *   requests Weft must refuse (InvalidOptionsError and the like). Once per round, at a random
 *   point, a second model is loaded (models/story or, where built, models/bench-story-fp16 in turn), two streams
 *   and an evaluate are started on it, and after a few tokens it is disposed mid-stream:
 *   by `model.dispose()`, or every other time by disposing a whole second runtime.
 *
 * Requests that pass no AbortSignal of their own pass one long-lived signal (a server's shutdown
 * signal, never aborted); so do `evaluate()` and the second model's `load()`. Its listener count
 * is reported: every request Weft took it for must leave none behind.
 *
 * After each round (all its requests settled): gc() twice, then process.memoryUsage() (heapUsed,
 * external, arrayBuffers, rss), process.getActiveResourcesInfo() by type, onnxruntime sessions
 * created but not released and their runs in flight (counted by wrapping onnxruntime-node's
 * InferenceSession here), Weft's own count of the models' runs (`model.activeRuns`), and how many objects of each kind this
 * script handed to Weft are still alive (FinalizationRegistry: Observables, AbortControllers,
 * store and router instances, second models, their sessions and runtimes). `unexpected` counts
 * outcomes a request's kind should never have (e.g. a BackendError, an instance "already in use").
 *
 * Verdict: for heapUsed, external, arrayBuffers and rss, the slope per 1000 requests by least
 * squares and by Theil-Sen (the median of the slopes between every pair of rounds, robust to a
 * few odd rounds), over the rounds after --warmup and over the last half of the rounds. A part of
 * the run grows when its Theil-Sen slope is positive and the growth it implies over that part is
 * larger than both a floor (0.25 MB for the V8 and ArrayBuffer numbers, 8 MB for rss, which the
 * native allocator moves by itself) and 3x the rounds' median distance from the fitted line (their
 * noise). A metric that grows in the last half GROWS (a leak, or a warm-up longer than the run:
 * run longer); one that grows after the warm-up but not in the last half is SETTLING (JIT code,
 * bounded caches such as the tokenizer's, the allocator's arenas filling up; the rows say where it
 * levels off); else it is FLAT. Counts (sessions open, runs in flight, objects alive, listeners,
 * handles) must come back to their level after the warm-up; one above it at the last round, or
 * rising, is flagged. For a GROWS, `--snapshots DIR` writes a heap snapshot after the warm-up and
 * one at the end: load both in Chrome DevTools' Memory tab ("Comparison"), or compare objects by
 * id (they keep theirs across snapshots of one process) to find what the new ones hang on.
 * Timing is not measured here: rounds share 2 CPU cores with whatever else runs.
 *
 *   npx pnpm@10 build
 *   node --expose-gc packages/cli/bench/soak.mjs [--rounds 30] [--requests-per-round 200] [--seed 1]
 *     [--model models/story] [--warmup 5] [--concurrency 3] [--snapshots DIR] [--json FILE]
 *     [--kinds "greedy,stop,..."] [--no-second-model]
 *
 * `--kinds` runs only the named kinds of request (the names in the outcomes table; an unknown name
 * lists them), `--no-second-model` leaves out the second model: to find which part of the mix
 * something comes from. `--json FILE` writes every round's numbers.
 */
import { getEventListeners } from 'node:events';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import v8 from 'node:v8';
import ort from 'onnxruntime-node';
import { createWeft, definePlugin, seededRandom } from '@weft/core';
import { nodeBackend } from '@weft/backend-node';
import { kvCompressors, Int8KvStore, Int4KvStore, KiviKvStore, TemporalKvStore } from '@weft/plugin-kv';
import { attentionRouters, createRouter } from '@weft/plugin-attention';
import { commandFlags, repoRoot } from './minimal-loop.mjs';

const flag = commandFlags();
const rounds = Number(flag('rounds', '30'));
const perRound = Number(flag('requests-per-round', '200'));
const seed = Number(flag('seed', '1'));
const modelDir = resolve(repoRoot, flag('model', 'models/story'));
const warmup = Number(flag('warmup', '5'));
const concurrency = Number(flag('concurrency', '3'));
const snapshots = flag('snapshots', undefined);
const jsonOut = flag('json', undefined);
const only = flag('kinds', undefined);
const noSecond = flag.on('no-second-model');
flag.done(import.meta.url);
for (const [name, v, min] of [['rounds', rounds, 1], ['requests-per-round', perRound, 1], ['seed', seed, 0], ['warmup', warmup, 0], ['concurrency', concurrency, 1]]) {
  if (!Number.isInteger(v) || v < min) {
    console.error(`soak.mjs: --${name} must be a whole number >= ${min} (got ${v}).`);
    process.exit(2);
  }
}
if (warmup >= rounds - 2) {
  console.error(`soak.mjs: --warmup (${warmup}) must leave at least 3 rounds of --rounds (${rounds}) to measure.`);
  process.exit(2);
}
if (typeof globalThis.gc !== 'function') {
  console.error('soak.mjs: run node with --expose-gc.');
  process.exit(2);
}

// ---------- counters outside Weft ----------------------------------------------------------------

/** onnxruntime sessions and runs, counted on onnxruntime-node's own class (the backend's copy is this one). */
const native = { created: 0, released: 0, runs: 0, inFlight: 0 };
{
  const IS = ort.InferenceSession;
  const create = IS.create;
  IS.create = async function (...args) {
    const session = await create.apply(this, args);
    native.created++;
    alive.track('ort session', session);
    return session;
  };
  const run = IS.prototype.run;
  IS.prototype.run = function (...args) {
    native.runs++;
    native.inFlight++;
    const p = run.apply(this, args);
    p.then(
      () => native.inFlight--,
      () => native.inFlight--,
    );
    return p;
  };
  const release = IS.prototype.release;
  IS.prototype.release = function (...args) {
    native.released++;
    return release.apply(this, args);
  };
}

/** Objects handed to Weft, by kind, minus those garbage-collected since. */
const alive = {
  counts: {},
  registry: new FinalizationRegistry((kind) => alive.counts[kind]--),
  track(kind, object) {
    this.counts[kind] = (this.counts[kind] ?? 0) + 1;
    this.registry.register(object, kind);
    return object;
  },
};

const warnings = [];
process.on('warning', (w) => warnings.push(`${w.name}: ${w.message}`));
const unhandled = [];
process.on('unhandledRejection', (reason) => unhandled.push(String(reason?.stack ?? reason)));

// ---------- the runtime ----------------------------------------------------------------------------

/** A logits processor that throws at one step (`at`), registered by a plugin. */
const failingProcessor = (owner, at) => ({
  name: owner,
  process(_logits, context) {
    if (context.step === at) throw new Error(`soak: ${owner} fails at step ${at}`);
  },
});
const soakPlugin = definePlugin({
  name: 'soak-processors',
  version: '0.0.0',
  apiVersion: '^0.1.0',
  description: 'logits processors for the soak: one that throws at a step',
  setup(ctx) {
    ctx.register('logits-processor', { name: 'soak-throw', create: (o) => failingProcessor('soak-throw', Number(o?.at ?? 0)) });
  },
});
const plugins = () => [nodeBackend({ defaults: { intraOpNumThreads: 1, interOpNumThreads: 1 } }), kvCompressors(), attentionRouters(), soakPlugin];
const shutdown = new AbortController(); // a server's: passed to requests with no signal of their own, never aborted
const weft = createWeft({ plugins: plugins() });
const main = await weft.load(modelDir, { signal: shutdown.signal });
// The same weights with attention outputs, for heavy-hitter and attention-importance (when the folder has them).
const ATTENTION_GRAPH = 'onnx/model_with_attentions.onnx';
const attn = existsSync(join(modelDir, ATTENTION_GRAPH)) ? await weft.load(modelDir, { onnxFile: ATTENTION_GRAPH, signal: shutdown.signal }) : undefined;
const tokenizer = main.tokenizer;
// The float16-cache copy is made locally (models/README.md); without it the second model is always the first's folder.
const secondModels = [modelDir, resolve(repoRoot, 'models/bench-story-fp16')].filter((dir) => existsSync(join(dir, 'config.json')));

// Text to draw prompts from: the model's held-out stories when it has them, else a fixed text.
let stories;
try {
  stories = readFileSync(join(modelDir, 'data/heldout.txt'), 'utf8').split(/\n\s*\n/).filter((s) => s.length > 200);
} catch {
  stories = ['Once upon a time, there was a little fox named Theo. He lived in a small house near the sea with his mother. Every day he played with his red ball on the beach, and every night he looked at the stars.'];
}

// ---------- requests --------------------------------------------------------------------------------

/** A request's own draws: int(a, b) inclusive, pick(list), chance(p). */
function drawsFor(index) {
  const rand = seededRandom(seed * 1_000_003 + index);
  return {
    rand,
    int: (a, b) => a + Math.floor(rand() * (b - a + 1)),
    pick: (list) => list[Math.floor(rand() * list.length)],
    chance: (p) => rand() < p,
  };
}

function promptText(d, minWords = 3, maxWords = 30) {
  const words = d.pick(stories).split(/\s+/);
  const n = d.int(minWords, maxWords);
  const start = d.int(0, Math.max(0, words.length - n));
  return words.slice(start, start + n).join(' ');
}

const DEFAULT_EXPECT = ['done', 'abort', 'unsubscribed', 'break'];
/** A failure's outcome, `error:Name`, with its message after a `|` (shown when unexpected). */
const failed = (error) => `error:${error?.name}|${String(error?.message).slice(0, 300)}`;
const SECOND_EXPECT = ['done', 'break', 'error:ModelDisposedError', 'after dispose error:ModelDisposedError'];

const STORES = [
  () => 'fp16',
  () => 'int8',
  () => 'int4',
  (d) => ({ name: 'kivi', options: { group: 8, residual: d.pick([8, 16]) } }),
  () => 'kivi',
  (d) => ({ name: 'temporal', options: { fp32: d.int(2, 8), int8: d.int(8, 24), rest: d.pick(['int4', 'int2']) } }),
  (d) => ({ name: 'int4', options: { group: 16, scales: d.pick(['fp16', 'fp32']) } }),
];
const ROUTERS = [
  (d) => ({ name: 'sink-window', options: { sinks: d.int(1, 4), window: d.int(8, 24), ...(d.chance(0.3) ? { positions: 'cache' } : {}) } }),
  (d) => ({ name: 'window', options: { budget: d.int(8, 32) } }),
  (d) => ({ name: 'strided', options: { budget: d.int(12, 32), stride: d.int(2, 6) } }),
  (d) => ({ name: 'key-norm', options: { budget: d.int(12, 32) } }),
  (d) => ({ name: 'content-aware', options: { budget: d.int(12, 32) } }),
];

/** Shared store and router instances, each used by one run at a time (a run takes a free one). */
const instancePool = {
  free: [],
  take(d) {
    if (this.free.length > 0 && d.chance(0.8)) return this.free.pop();
    const kv = alive.track('store instance', d.pick([() => new Int8KvStore(), () => new Int4KvStore({ group: 16 }), () => new KiviKvStore({ group: 8, residual: 8 }), () => new TemporalKvStore({ fp32: 4, int8: 12 })])());
    const router = alive.track('router instance', createRouter('sink-window', { sinks: 2, window: d.int(8, 20) }));
    return { kv, router };
  },
  give(pair) {
    if (this.free.length < 4) this.free.push(pair);
  },
};

/**
 * The kinds of request, with weights. Each returns what to run: `{ model, request, mode, expect }`
 * (mode says how the stream is read and ended; expect, the outcomes that are fine; after, what to
 * do once it settled) or a `task` of its own (`evaluate()`, a second model) with its `expect`.
 */
const KINDS = [
  [8, 'greedy', (d) => ({ request: { ...(d.chance(0.5) ? { prompt: promptText(d) } : { inputIds: tokenizer.encode(promptText(d)) }), maxTokens: d.int(8, 64), temperature: 0 } })],
  [8, 'sampled', (d) => ({ request: { prompt: promptText(d), maxTokens: d.int(8, 64), temperature: d.pick([0.7, 1, 1.3]), topK: d.pick([0, 20, 50]), topP: d.pick([1, 0.9]), minP: d.pick([0, 0.05]), repetitionPenalty: d.pick([1, 1.1]), seed: d.int(0, 1e6) } })],
  [6, 'batch', (d) => ({ request: { prompt: Array.from({ length: d.int(2, 4) }, () => promptText(d, 2, 40)), maxTokens: d.int(8, 48), temperature: d.pick([0, 0.8]), seed: d.int(0, 1e6), ignoreEos: d.chance(0.3) } })],
  [5, 'stop', (d) => ({ request: { prompt: promptText(d), maxTokens: 64, stop: d.chance(0.5) ? [promptText(d, 1, 2)] : d.pick([['.'], ['\n', ' the'], ['was', 'He', 'She'], ['zzz-never']]), temperature: d.pick([0, 0.8]), seed: d.int(0, 1e6) } })],
  [5, 'chat', (d) => ({ request: { messages: d.chance(0.3) ? [chat(d), chat(d)] : chat(d), maxTokens: d.int(8, 48), temperature: d.pick([0, 0.9]), seed: d.int(0, 1e6) } })],
  [3, 'text()', (d) => ({ request: { prompt: promptText(d), maxTokens: d.int(8, 48) }, mode: { type: 'text' } })],
  [9, 'kv store', (d) => ({ request: { prompt: promptText(d, 10, 60), maxTokens: d.int(16, 64), kv: d.pick(STORES)(d), temperature: d.pick([0, 0.8]), seed: d.int(0, 1e6), ignoreEos: d.chance(0.5), ...(d.chance(0.3) ? { router: d.pick(ROUTERS)(d) } : {}) } })],
  [8, 'router', (d) => ({ request: { prompt: d.chance(0.3) ? [promptText(d, 5, 30), promptText(d, 5, 30)] : promptText(d, 10, 60), maxTokens: d.int(16, 64), router: d.pick(ROUTERS)(d), ignoreEos: true, ...(d.chance(0.3) ? { analyzers: ['router-decisions'] } : {}) } })],
  [4, 'attention routers', (d) => ({
    model: attn,
    request: d.chance(0.5)
      ? { prompt: promptText(d, 10, 60), maxTokens: d.int(16, 64), router: { name: 'heavy-hitter', options: { budget: d.int(12, 32) } }, ignoreEos: true, ...(d.chance(0.4) ? { kv: d.pick(STORES)(d) } : {}) }
      : { prompt: promptText(d, 10, 60), maxTokens: d.int(16, 64), router: { name: 'hybrid', options: { budget: d.int(12, 32) } }, analyzers: ['attention-importance'], ignoreEos: true },
  })],
  [4, 'instances', (d) => {
    const pair = instancePool.take(d);
    return { request: { prompt: promptText(d, 10, 40), maxTokens: d.int(16, 48), kv: pair.kv, ...(d.chance(0.5) ? { router: pair.router } : {}), ignoreEos: true }, after: () => instancePool.give(pair) };
  }],
  [8, 'for-await break', (d) => ({ request: { prompt: promptText(d), maxTokens: 64, ignoreEos: true, ...(d.chance(0.3) ? { kv: d.pick(STORES)(d) } : {}) }, mode: { type: 'stream', breakAfter: d.int(1, 20) } })],
  [8, 'unsubscribe', (d) => ({ request: { prompt: promptText(d), maxTokens: 64, ignoreEos: true, temperature: d.pick([0, 0.8]), ...(d.chance(0.3) ? { router: d.pick(ROUTERS)(d) } : {}) }, mode: { type: 'unsubscribe', after: d.int(0, 30) } })],
  [7, 'abort at token', (d) => ({ request: { prompt: d.chance(0.3) ? [promptText(d), promptText(d)] : promptText(d), maxTokens: 64, ignoreEos: true, ...(d.chance(0.4) ? { kv: d.pick(STORES)(d) } : {}) }, mode: { type: 'abort', after: d.int(1, 40) } })],
  [3, 'abort by timer', (d) => ({ request: { prompt: promptText(d, 10, 60), maxTokens: 64, ignoreEos: true }, mode: { type: 'abortTimer', ms: d.int(0, 15) } })],
  [1, 'aborted before', (d) => ({ request: { prompt: promptText(d), maxTokens: 16 }, mode: { type: 'preAborted' } })],
  [4, 'plugin throws', (d) => ({ request: { prompt: promptText(d), maxTokens: 48, ignoreEos: true, processors: [{ name: 'soak-throw', options: { at: d.int(0, 30) } }], ...(d.chance(0.3) ? { kv: d.pick(STORES)(d) } : {}) }, expect: ['error:PluginError'] })],
  [2, 'instance throws', (d) => ({ request: { prompt: promptText(d), maxTokens: 48, ignoreEos: true, processors: [failingProcessor('soak-instance', d.int(0, 30))] }, expect: ['error:PluginError'] })],
  [5, 'evaluate', (d) => ({ task: () => evaluateTask(d), expect: [...DEFAULT_EXPECT, 'error:AbortError'] })],
  // Weight 0: not in the default mix, which loads a second model once per round instead; named in
  // --kinds, every request of the kind loads one (load/dispose churn).
  [0, 'second model', (d, index) => ({ task: () => secondModelTask(d, index), expect: SECOND_EXPECT })],
  [2, 'refused', (d) => ({ request: d.pick([{ prompt: 'x', kv: 'no-such-store' }, { prompt: 'x', stop: ['\ud83d'] }, { prompt: 'x', maxTokens: -1 }, { prompt: 'x', router: { name: 'window', options: { budget: 0 } } }]), expect: ['error:InvalidOptionsError', 'error:AdapterResolutionError', 'error:PluginError'] })],
];
// A model folder without the attention graph: no request needs it.
if (!attn) KINDS.splice(KINDS.findIndex((k) => k[1] === 'attention routers'), 1);
if (only !== undefined) {
  const names = only.split(',').map((n) => n.trim());
  const unknown = names.filter((n) => !KINDS.some((k) => k[1] === n));
  if (unknown.length > 0) {
    console.error(`soak.mjs: --kinds: no kind ${unknown.map((n) => JSON.stringify(n)).join(', ')}; kinds: ${KINDS.map((k) => k[1]).join(', ')}.`);
    process.exit(2);
  }
  KINDS.splice(0, KINDS.length, ...KINDS.filter((k) => names.includes(k[1])).map(([w, ...rest]) => [w || 1, ...rest]));
}
const totalWeight = KINDS.reduce((s, k) => s + k[0], 0);

function chat(d) {
  const turns = [];
  if (d.chance(0.3)) turns.push({ role: 'system', content: promptText(d, 2, 10) });
  turns.push({ role: 'user', content: promptText(d, 3, 20) });
  if (d.chance(0.3)) turns.push({ role: 'assistant', content: promptText(d, 3, 20) }, { role: 'user', content: promptText(d, 2, 10) });
  return turns;
}

async function evaluateTask(d) {
  const ids = tokenizer.encode(promptText(d, 20, 120));
  if (ids.length < 2) return 'done';
  const controller = d.chance(0.25) ? alive.track('controller', new AbortController()) : undefined;
  const request = {
    inputIds: ids,
    prefillTokens: d.int(1, Math.min(32, ids.length - 1)),
    ...(d.chance(0.5) ? { kv: d.pick(STORES)(d) } : {}),
    ...(d.chance(0.3) ? { router: d.pick(ROUTERS)(d) } : {}),
    signal: controller?.signal ?? shutdown.signal,
  };
  if (controller) setTimeout(() => controller.abort(), d.int(0, 5));
  try {
    const r = await main.evaluate(request);
    if (!Number.isFinite(r.perplexity)) return 'unexpected:perplexity not finite';
    return 'done';
  } catch (error) {
    return failed(error);
  }
}


/** Runs one request as its mode says; resolves with its outcome (never rejects). */
function runRequest(model, request, mode = { type: 'events' }) {
  if (mode.type === 'text') return model.text(request).then(() => 'done', (e) => failed(e));
  if (mode.type === 'stream') {
    return (async () => {
      let n = 0;
      try {
        for await (const piece of model.stream(request)) {
          if (piece !== '' && ++n >= mode.breakAfter) return 'break';
        }
        return 'done';
      } catch (e) {
        return failed(e);
      }
    })();
  }
  let controller;
  if (mode.type === 'abort' || mode.type === 'abortTimer' || mode.type === 'preAborted') {
    controller = alive.track('controller', new AbortController());
    request = { ...request, signal: controller.signal };
    if (mode.type === 'preAborted') controller.abort();
  } else if (request.signal === undefined) {
    request = { ...request, signal: shutdown.signal };
  }
  const observable = alive.track('observable', model.generate(request));
  return new Promise((settle) => {
    let tokens = 0;
    let finish;
    let subscription;
    let unsubscribeNow = false;
    subscription = observable.subscribe({
      next(e) {
        if (e.type === 'done') finish = e.finishReason;
        if (e.type !== 'token') return;
        tokens++;
        if (mode.type === 'abort' && tokens === mode.after) controller.abort();
        if (mode.type === 'unsubscribe' && tokens >= mode.after) {
          if (subscription) subscription.unsubscribe();
          else unsubscribeNow = true;
          settle('unsubscribed');
        }
      },
      error: (e) => settle(failed(e)),
      complete: () => settle(finish === 'abort' ? 'abort' : finish === undefined ? 'unexpected:no done event' : 'done'),
    });
    if (unsubscribeNow) subscription.unsubscribe();
    if (mode.type === 'unsubscribe' && mode.after === 0) {
      subscription.unsubscribe();
      settle('unsubscribed');
    }
    if (mode.type === 'abortTimer') setTimeout(() => controller.abort(), mode.ms);
  });
}

/**
 * A second model, loaded and disposed mid-stream: on this runtime (`model.dispose()`), or on a
 * runtime of its own that is disposed whole. Resolves with the outcomes of what ran on it.
 */
async function secondModelTask(d, index) {
  const own = index % 2 === 1;
  const runtime = own ? alive.track('runtime', createWeft({ plugins: plugins() })) : weft;
  const dir = secondModels[Math.floor(index / 2) % secondModels.length];
  const model = alive.track('second model', await runtime.load(dir, { signal: shutdown.signal }));
  alive.track('second session', model.session);
  const k = d.int(1, 12);
  let dispose;
  const disposed = new Promise((r) => (dispose = r));
  const first = new Promise((settle) => {
    let n = 0;
    const obs = alive.track('observable', model.generate({ prompt: promptText(d), maxTokens: 64, ignoreEos: true, kv: d.pick([undefined, 'int8', 'temporal']), signal: shutdown.signal }));
    obs.subscribe({
      next: (e) => e.type === 'token' && ++n === k && dispose(),
      error: (e) => settle(failed(e)),
      complete: () => settle('done'),
    });
  });
  const second = runRequest(model, { prompt: promptText(d), maxTokens: 64, ignoreEos: true }, { type: 'stream', breakAfter: 1000 });
  const ids = tokenizer.encode(promptText(d, 40, 120));
  const scored = model.evaluate({ inputIds: ids, signal: shutdown.signal }).then(() => 'done', (e) => failed(e));
  await Promise.race([disposed, first]);
  await (own ? runtime.dispose() : model.dispose());
  const outcomes = await Promise.all([first, second, scored]);
  // After the dispose, a new stream on the model must fail at once.
  outcomes.push(await runRequest(model, { prompt: 'x', maxTokens: 2 }).then((o) => `after dispose ${o}`));
  return outcomes;
}

// ---------- rounds ----------------------------------------------------------------------------------

const outcomes = {}; // kind → outcome → count
const unexpected = [];
const note = (kind, given, expect) => {
  const [outcome, message] = given.split(/\|(.*)/s);
  (outcomes[kind] ??= {})[outcome] = (outcomes[kind][outcome] ?? 0) + 1;
  if (!expect.includes(outcome) && unexpected.length < 1000) unexpected.push(`${kind}: ${outcome}${message ? ` (${message})` : ''}`);
};

async function runOne(index) {
  const d = drawsFor(index);
  let x = d.rand() * totalWeight;
  let entry = KINDS[0];
  for (const k of KINDS) if ((x -= k[0]) < 0) { entry = k; break; }
  const [, kind, make] = entry;
  const job = make(d, index);
  if (job.task) {
    for (const outcome of [await job.task()].flat()) note(kind, outcome, job.expect);
    return;
  }
  try {
    const outcome = await runRequest(job.model ?? main, job.request, job.mode);
    note(kind, outcome, job.expect ?? (job.mode?.type === 'preAborted' ? ['abort'] : DEFAULT_EXPECT));
  } finally {
    job.after?.();
  }
}

const settleTurns = async () => {
  for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, 20));
};
async function measure() {
  await settleTurns();
  globalThis.gc();
  await settleTurns(); // FinalizationRegistry callbacks, then a second collection for what they freed
  globalThis.gc();
  await settleTurns();
  const m = process.memoryUsage();
  const handles = {};
  for (const r of process.getActiveResourcesInfo()) handles[r] = (handles[r] ?? 0) + 1;
  return {
    heapUsed: m.heapUsed / 1e6,
    external: m.external / 1e6,
    arrayBuffers: m.arrayBuffers / 1e6,
    rss: m.rss / 1e6,
    handles,
    sessionsOpen: native.created - native.released,
    runsInFlight: native.inFlight,
    weftRuns: main.activeRuns + (attn?.activeRuns ?? 0),
    alive: { ...alive.counts },
    listeners: getEventListeners(shutdown.signal, 'abort').length,
    contexts: v8.getHeapStatistics().number_of_native_contexts,
  };
}

const fmt = (n, w = 7, p = 2) => n.toFixed(p).padStart(w);
const short = { observable: 'obs', controller: 'ctl', 'store instance': 'kvI', 'router instance': 'rtI', 'second model': 'mdl', 'second session': 'ses', 'ort session': 'ort', runtime: 'rt' };
const aliveText = (a) => Object.entries(a).map(([k, v]) => `${short[k] ?? k}=${v}`).join(' ');
const handlesText = (h) => Object.entries(h).map(([k, v]) => `${k}:${v}`).join(' ');

console.log(`soak: ${modelDir}, ${rounds} rounds x ${perRound} requests, ${concurrency} at a time, seed ${seed}, warm-up ${warmup} rounds`);
const baseline = await measure();
console.log(`before: heapUsed ${baseline.heapUsed.toFixed(2)} MB, external ${baseline.external.toFixed(2)} MB, arrayBuffers ${baseline.arrayBuffers.toFixed(2)} MB, rss ${baseline.rss.toFixed(1)} MB; sessions open ${baseline.sessionsOpen}`);
console.log('round  requests  wall s  heapUsed  external  arrayBuf      rss  sess runs lsn unexp  alive / handles');
const rows = [];
let done = 0;
const start = performance.now();
for (let round = 1; round <= rounds; round++) {
  const roundStart = performance.now();
  const first = done;
  let next = first;
  const last = first + perRound;
  const secondAt = first + drawsFor(-round).int(0, perRound - 1);
  const workers = Array.from({ length: concurrency }, async () => {
    while (next < last) {
      const index = next++;
      if (index === secondAt && !noSecond) {
        for (const o of await secondModelTask(drawsFor(-1e6 - round), round)) note('second model', o, SECOND_EXPECT);
      }
      await runOne(index);
    }
  });
  await Promise.all(workers);
  done = last;
  const wall = (performance.now() - roundStart) / 1000;
  const m = await measure();
  rows.push({ round, requests: done, wall, ...m, unexpected: unexpected.length, warnings: warnings.length, unhandled: unhandled.length });
  console.log(
    `${String(round).padStart(5)} ${String(done).padStart(9)} ${fmt(wall, 7, 1)} ${fmt(m.heapUsed, 9)} ${fmt(m.external, 9)} ${fmt(m.arrayBuffers, 9)} ${fmt(m.rss, 8, 1)} ${String(m.sessionsOpen).padStart(5)} ${String(m.runsInFlight).padStart(4)} ${String(m.listeners).padStart(3)} ${String(unexpected.length).padStart(5)}  ${aliveText(m.alive)} / ${handlesText(m.handles)}`,
  );
  if (snapshots && round === warmup) writeSnapshot('after-warmup');
}
if (snapshots) writeSnapshot('end');

function writeSnapshot(label) {
  mkdirSync(snapshots, { recursive: true });
  const file = v8.writeHeapSnapshot(join(snapshots, `soak-${label}.heapsnapshot`));
  console.log(`  heap snapshot: ${file}`);
}

// ---------- summary -------------------------------------------------------------------------------

const measured = rows.slice(warmup);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};
/** Least-squares and Theil-Sen slopes (MB per 1000 requests) of `key` over `part` of the rows, and the noise around the fit. */
function slopes(part, key) {
  const xs = part.map((r) => r.requests / 1000);
  const ys = part.map((r) => r[key]);
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  const ls = sxy / sxx;
  const pair = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) pair.push((ys[j] - ys[i]) / (xs[j] - xs[i]));
  const ts = median(pair);
  const intercept = median(ys.map((y, i) => y - ts * xs[i]));
  const noise = median(ys.map((y, i) => Math.abs(y - (intercept + ts * xs[i]))));
  const span = xs[n - 1] - xs[0];
  // Growth beyond the floor and the noise over this part of the run.
  const grows = ts > 0 && ts * span > FLOORS[key] && ts * span > 3 * noise;
  return { ls, ts, noise, span, grows, min: Math.min(...ys), median: median(ys), max: Math.max(...ys), first: ys[0], last: ys[n - 1] };
}
const FLOORS = { heapUsed: 0.25, external: 0.25, arrayBuffers: 0.25, rss: 8 };
// The last half of the rounds (at least 3, all after the warm-up): a warm-up that lasts longer than
// --warmup (JIT code, caches filling up, the allocator's arenas) shows in `measured` but not here.
const lastHalf = rows.slice(Math.min(Math.max(warmup, Math.floor(rows.length / 2)), rows.length - 3));
const summary = {};
console.log(`\nafter the ${warmup}-round warm-up: rounds ${warmup + 1}-${rounds}, requests ${measured[0].requests - perRound + 1}-${done} (${(done - measured[0].requests + perRound).toLocaleString('en')}); last half: rounds ${lastHalf[0].round}-${rounds}; ${((performance.now() - start) / 60000).toFixed(1)} min in all`);
console.log('               after warm-up (MB)          MB per 1000 requests          noise   last half  verdict');
console.log('metric          min   median      max    least sq.   Theil-Sen           MB  Theil-Sen');
let grows = false;
for (const key of ['heapUsed', 'external', 'arrayBuffers', 'rss']) {
  const s = slopes(measured, key);
  const late = slopes(lastHalf, key);
  const verdict = late.grows ? `GROWS (${(late.ts * late.span).toFixed(2)} MB over the last half)` : s.grows ? `settling (${(s.ts * s.span).toFixed(2)} MB after the warm-up, flat in the last half)` : 'flat';
  grows ||= late.grows;
  summary[key] = { ...s, lastHalf: late, verdict };
  console.log(`${key.padEnd(12)} ${fmt(s.min, 7)} ${fmt(s.median, 8)} ${fmt(s.max, 8)} ${fmt(s.ls, 12, 3)} ${fmt(s.ts, 11, 3)} ${fmt(s.noise, 12, 3)} ${fmt(late.ts, 10, 3)}  ${verdict}`);
}
// Counts: back to their post-warm-up level at the end, and not rising.
const flags = [];
const countsOf = (r) => ({ 'sessions open': r.sessionsOpen, 'runs in flight': r.runsInFlight, 'model.activeRuns': r.weftRuns, 'shutdown-signal listeners': r.listeners, 'native contexts': r.contexts, ...Object.fromEntries(Object.entries(r.alive).map(([k, v]) => [`alive ${k}`, v])), ...Object.fromEntries(Object.entries(r.handles).map(([k, v]) => [`handle ${k}`, v])) });
const atWarm = countsOf(measured[0]);
const atEnd = countsOf(measured[measured.length - 1]);
for (const key of new Set([...Object.keys(atWarm), ...Object.keys(atEnd)])) {
  const series = measured.map((r) => countsOf(r)[key] ?? 0);
  if ((atEnd[key] ?? 0) > (atWarm[key] ?? 0) || median(series.slice(-3)) > Math.max(...series.slice(0, 3))) flags.push(`${key}: ${series.join(' ')}`);
}
console.log(`counts at the end: ${Object.entries(atEnd).map(([k, v]) => `${k} ${v}`).join(', ')}`);
console.log(flags.length === 0 ? 'counts: back to their post-warm-up level at the end, none rising' : `counts above their post-warm-up level:\n  ${flags.join('\n  ')}`);
console.log(`native runs: ${native.runs.toLocaleString('en')}; sessions created ${native.created}, released ${native.released}`);
console.log('outcomes by kind:');
for (const [kind, o] of Object.entries(outcomes)) console.log(`  ${kind.padEnd(18)} ${Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ')}`);
const uniq = [...new Set(unexpected)];
console.log(unexpected.length === 0 ? 'unexpected outcomes: none' : `unexpected outcomes: ${unexpected.length}\n  ${uniq.slice(0, 10).join('\n  ')}`);
if (warnings.length > 0) console.log(`process warnings: ${warnings.length}\n  ${[...new Set(warnings)].slice(0, 5).join('\n  ')}`);
if (unhandled.length > 0) console.log(`unhandled rejections: ${unhandled.length}\n  ${unhandled.slice(0, 3).join('\n  ')}`);
console.log(`verdict: ${grows || flags.length > 0 || unexpected.length > 0 || unhandled.length > 0 ? 'LOOK CLOSER (see above)' : 'flat: no growth beyond noise, every count back to its level'}`);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ settings: { rounds, perRound, seed, modelDir, warmup, concurrency }, baseline, rows, summary, flags, outcomes, unexpected: uniq, warnings, native }, null, 2));

await weft.dispose();
shutdown.abort();
