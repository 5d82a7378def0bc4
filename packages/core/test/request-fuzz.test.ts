/**
 * Request fuzzing: seeded random `GenerationRequest`s and `PerplexityRequest`s, mixing valid and
 * hostile values for every field (prompts of odd shapes and sizes, lone surrogates, NaN, -0,
 * BigInt, holes, throwing getters, Proxies, frozen and null-prototype objects, `__proto__` keys,
 * unknown keys and names, components that throw or return garbage, signals aborted before or
 * during the run, maxTokens at the context's edge…), run in-process on the tiny fixture through
 * `generate` (subscribe and collect, sometimes unsubscribing early, sometimes subscribing twice at
 * once), `stream`, `text` and `evaluate`. The generator is request-fuzz-values.ts.
 *
 * A case passes when it either completes well-formed (a `start` first and a `done` last whose rows
 * have ids within the vocabulary, a documented finish reason, text equal to the row's token and
 * flush texts, at most maxTokens ids, no stop string in the text; for evaluate a finite-or-infinite
 * perplexity over n - 1 tokens) or fails with a `WeftError` whose message is one non-empty line
 * that quotes nothing as "undefined" or "[object Object]" (but what a component returned or
 * threw, described as it is) and is no `BackendError` (the fuzz never breaks the backend, so one
 * would blame it for the request; an aborted evaluation may reject with its signal's reason, as
 * documented); with no unhandled rejection or uncaught
 * exception meanwhile; with every KV store a run began disposed afterwards; and when a plain request
 * on the same model, and on each well-behaved store or router instance the case passed, still
 * succeeds (nothing left claimed or broken). Anything else fails the test with the seed:
 *
 *   WEFT_REQUEST_FUZZ_SEEDS=17,305 npx vitest run packages/core/test/request-fuzz.test.ts
 *
 * Environment: WEFT_REQUEST_FUZZ_CASES (default 2500: seeds 1…N, fixed so CI is deterministic),
 * WEFT_REQUEST_FUZZ_FIRST (the first seed, default 1), WEFT_REQUEST_FUZZ_SEEDS (a comma-separated
 * list instead), WEFT_REQUEST_FUZZ_VERBOSE=1 (print every case and its outcome).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kvCompressors, kvQuant } from '../../plugins/kv/src/index.js';
import { attentionRouters, sinkWindow } from '../../plugins/attention/src/index.js';
import { WeftError, type GenerationEvent, type GenerationRequest, type PerplexityRequest, type WeftModel } from '../src/index.js';
import { collect, done, fixture, runtime } from './helpers.js';
import { CONTEXT, fuzzPlugin, makeCase, VOCAB, type FuzzCase, type Tracker } from './request-fuzz-values.js';

const env = process.env;
const FIRST = Number(env['WEFT_REQUEST_FUZZ_FIRST'] ?? 1);
const SEEDS: readonly number[] = env['WEFT_REQUEST_FUZZ_SEEDS']
  ? env['WEFT_REQUEST_FUZZ_SEEDS'].split(',').map((s) => Number(s.trim()))
  : Array.from({ length: Number(env['WEFT_REQUEST_FUZZ_CASES'] ?? 2500) }, (_, i) => FIRST + i);
const VERBOSE = env['WEFT_REQUEST_FUZZ_VERBOSE'] === '1';
/** Hang detection, far above the few milliseconds a case takes. */
const CASE_TIMEOUT_MS = 20_000;
/** How long a case's stores get to be disposed after it settled (an unsubscribed run stops at its next step). */
const SETTLE_MS = 5_000;

const FINISH_REASONS = new Set(['eos', 'length', 'stop', 'abort']);

/** What a case ended in. */
type Outcome = { readonly kind: 'ok'; readonly detail: string } | { readonly kind: 'error'; readonly error: unknown } | { readonly kind: 'hang' };

let current: Tracker | undefined;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);

/** Runs `work`, or reports a hang after {@link CASE_TIMEOUT_MS}. */
async function bounded<T>(work: () => Promise<T>): Promise<{ value: T } | { error: unknown } | 'hang'> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<'hang'>((resolve) => (timer = setTimeout(() => resolve('hang'), CASE_TIMEOUT_MS)));
  try {
    // work() may throw synchronously (a hostile request read outside the Observable): that is its outcome too.
    return await Promise.race([Promise.resolve().then(work).then((value) => ({ value }), (error: unknown) => ({ error })), hang]);
  } finally {
    clearTimeout(timer);
  }
}

/** Why a finished generation's events are malformed, or undefined. */
function checkEvents(events: readonly GenerationEvent[], c: FuzzCase, complete: boolean): string | undefined {
  if (events.length === 0) return complete ? 'completed without events' : undefined;
  const start = events[0]!;
  if (start.type !== 'start') return `first event is ${start.type}, not start`;
  if (!complete) return undefined;
  const last = events.at(-1)!;
  if (last.type !== 'done') return `last event is ${last.type}, not done`;
  if (events.filter((e) => e.type === 'done').length !== 1) return 'more than one done event';
  if (!FINISH_REASONS.has(last.finishReason)) return `done.finishReason ${String(last.finishReason)}`;
  if (last.rows.length !== start.batchSize) return `${last.rows.length} rows in done, batch size ${start.batchSize}`;
  for (const row of last.rows) {
    if (!FINISH_REASONS.has(row.finishReason)) return `row ${row.row} finishReason ${String(row.finishReason)}`;
    if (!row.ids.every((id) => Number.isInteger(id) && id >= 0 && id < VOCAB)) return `row ${row.row} has ids outside the vocabulary: ${row.ids.join(',')}`;
    const tokens = events.filter((e): e is Extract<GenerationEvent, { type: 'token' }> => e.type === 'token' && e.row === row.row);
    const streamed = events.filter((e) => (e.type === 'token' || e.type === 'flush') && e.row === row.row).map((e) => (e as { text: string }).text).join('');
    if (streamed !== row.text) return `row ${row.row} text ${JSON.stringify(row.text.slice(0, 80))} is not its joined deltas ${JSON.stringify(streamed.slice(0, 80))}`;
    if (tokens.map((e) => e.id).join(',') !== row.ids.join(',')) return `row ${row.row} ids ${row.ids.join(',')} differ from its token events' ${tokens.map((e) => e.id).join(',')}`;
    if (tokens.some((e, i) => e.index !== i)) return `row ${row.row} token indices are not 0…n-1`;
    if (c.maxTokens !== undefined && row.ids.length > c.maxTokens) return `row ${row.row} has ${row.ids.length} ids, maxTokens ${c.maxTokens}`;
    if (row.usage.completionTokens !== row.ids.length) return `row ${row.row} usage.completionTokens ${row.usage.completionTokens} for ${row.ids.length} ids`;
    if (row.usage.promptTokens + row.ids.length > CONTEXT) return `row ${row.row} overflows the context: ${row.usage.promptTokens} + ${row.ids.length}`;
    const stop = c.stops.find((s) => s !== '' && row.text.includes(s));
    if (stop !== undefined) return `row ${row.row} text holds the stop string ${JSON.stringify(stop.slice(0, 40))}`;
  }
  const aborted = last.rows.some((r) => r.finishReason === 'abort');
  if (aborted !== (last.finishReason === 'abort')) return `done.finishReason ${last.finishReason} with row reasons ${last.rows.map((r) => r.finishReason).join(',')}`;
  return undefined;
}

/** Why a thrown value is not an acceptable failure, or undefined. */
function checkError(error: unknown): string | undefined {
  if (!WeftError.isInstance(error)) {
    const name = error instanceof Error ? `${error.name}: ${error.message.slice(0, 300)}\n${error.stack?.split('\n').slice(1, 6).join('\n')}` : String(error);
    return `untyped error ${name}`;
  }
  const message = error.message;
  // The fuzz never breaks the model or the backend: a BackendError blames them for the request.
  if (error.name === 'BackendError') return `the backend is blamed: ${message.slice(0, 300)}`;
  if (typeof message !== 'string' || message.trim() === '') return `${error.name} with an empty message`;
  if (/\n/.test(message)) return `${error.name} message spans lines: ${JSON.stringify(message.slice(0, 300))}`;
  // "undefined" may name the value itself: what to return ("Return undefined to keep every slot"),
  // what a component returned, or what plugin code threw (described as it is).
  const thrownUndefined = Object.hasOwn(error, 'cause') && error.cause === undefined && message.endsWith(': undefined');
  if (!thrownUndefined && /\bundefined\b/.test(message.replace(/\b[Rr]eturn(s|ed)? undefined\b/g, ''))) return `${error.name} message says "undefined": ${message.slice(0, 300)}`;
  if (/\[object \w+\]/.test(message)) return `${error.name} message says "[object …]": ${message.slice(0, 300)}`;
  if (message.length > 2000) return `${error.name} message of ${message.length} characters`;
  return undefined;
}

/** Drives one case through its API; returns what it ended in, or why it is malformed. */
async function drive(model: WeftModel, c: FuzzCase): Promise<{ outcome: Outcome; problem?: string }> {
  const request = c.request;
  if (c.api === 'evaluate') {
    const r = await bounded(() => model.evaluate(request as PerplexityRequest));
    if (r === 'hang') return { outcome: { kind: 'hang' } };
    if ('error' in r) {
      // As documented: an aborted evaluation rejects with its signal's reason.
      const abortError = r.error instanceof DOMException && r.error.name === 'AbortError';
      if (c.tracker.signals.some((s) => s.aborted && s.reason === r.error) || (c.tracker.signalGiven && abortError)) return { outcome: { kind: 'ok', detail: 'aborted with the signal\'s reason' } };
      return { outcome: { kind: 'error', error: r.error } };
    }
    const { perplexity, nll, tokens, kvBytes } = r.value;
    const ok = typeof perplexity === 'number' && !Number.isNaN(perplexity) && perplexity >= 1 - 1e-6 && !Number.isNaN(nll) && Number.isInteger(tokens) && tokens >= 1 && Number.isInteger(kvBytes) && kvBytes >= 0;
    return { outcome: { kind: 'ok', detail: `perplexity ${perplexity}` }, ...(ok ? {} : { problem: `malformed result ${JSON.stringify(r.value)}` }) };
  }
  if (c.api === 'text') {
    const r = await bounded(() => model.text(request as GenerationRequest));
    if (r === 'hang') return { outcome: { kind: 'hang' } };
    if ('error' in r) return { outcome: { kind: 'error', error: r.error } };
    return { outcome: { kind: 'ok', detail: `${r.value.length} chars` }, ...(typeof r.value === 'string' ? {} : { problem: `text() gave ${typeof r.value}` }) };
  }
  if (c.api === 'stream') {
    const r = await bounded(async () => {
      let text = '';
      let chunks = 0;
      for await (const piece of model.stream(request as GenerationRequest)) {
        if (typeof piece !== 'string') throw new Error(`stream yielded ${typeof piece}`);
        text += piece;
        if (++chunks === c.stopAfter) break;
      }
      return text;
    });
    if (r === 'hang') return { outcome: { kind: 'hang' } };
    if ('error' in r) return { outcome: { kind: 'error', error: r.error } };
    return { outcome: { kind: 'ok', detail: `${r.value.length} chars` } };
  }
  if (c.api === 'generate-twice') {
    // The same cold Observable subscribed twice at once: two runs of one request.
    const r = await bounded(() => {
      const events = model.generate(request as GenerationRequest);
      return Promise.allSettled([collect(events), collect(events)]);
    });
    if (r === 'hang') return { outcome: { kind: 'hang' } };
    if ('error' in r) return { outcome: { kind: 'error', error: r.error } };
    const problems: string[] = [];
    for (const settled of r.value) {
      if (settled.status === 'rejected') {
        const why = checkError(settled.reason);
        if (why) problems.push(why);
      } else {
        const why = checkEvents(settled.value, c, true);
        if (why) problems.push(why);
      }
    }
    const failures = r.value.filter((s) => s.status === 'rejected');
    const outcome: Outcome = failures.length === 2 ? { kind: 'error', error: (failures[0] as PromiseRejectedResult).reason } : { kind: 'ok', detail: `${2 - failures.length} of 2 runs completed` };
    return { outcome, ...(problems.length > 0 ? { problem: problems.join('; ') } : {}) };
  }
  // generate: subscribe and collect, or unsubscribe after `stopAfter` events.
  const events: GenerationEvent[] = [];
  let complete = false;
  const r = await bounded(
    () =>
      new Promise<void>((resolve, reject) => {
        const subscription = model.generate(request as GenerationRequest).subscribe({
          next: (e) => {
            events.push(e);
            if (events.length === c.stopAfter) {
              // Asynchronously: subscribe() may not have returned yet.
              queueMicrotask(() => {
                subscription?.unsubscribe();
                resolve();
              });
            }
          },
          error: reject,
          complete: () => {
            complete = true;
            resolve();
          },
        });
      }),
  );
  if (r === 'hang') return { outcome: { kind: 'hang' } };
  if ('error' in r) return { outcome: { kind: 'error', error: r.error }, ...(events.length > 0 && events[0]!.type !== 'start' ? { problem: `first event ${events[0]!.type}` } : {}) };
  const why = checkEvents(events, c, complete);
  const last = events.at(-1);
  return { outcome: { kind: 'ok', detail: complete && last?.type === 'done' ? `done ${last.finishReason} ${last.rows.map((row) => row.ids.length).join('+')} ids` : `${events.length} events` }, ...(why ? { problem: why } : {}) };
}

/** Waits until every store the case began is disposed, or {@link SETTLE_MS} passed. */
async function storesSettled(t: Tracker): Promise<boolean> {
  const until = performance.now() + SETTLE_MS;
  while (!t.stores.every((s) => s.settled)) {
    if (performance.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}

/** Runs one case and the checks after it; returns why it failed, or undefined. */
async function runCase(model: WeftModel, c: FuzzCase): Promise<{ verdict: string | undefined; summary: string }> {
  current = c.tracker;
  unhandled.length = 0;
  let result: Awaited<ReturnType<typeof drive>>;
  try {
    result = await drive(model, c);
  } finally {
    // A rejection surfaces a turn or two after the promise is dropped.
    await new Promise((resolve) => setTimeout(resolve, 0));
    await new Promise((resolve) => setImmediate(resolve));
  }
  const { outcome } = result;
  const summary = outcome.kind === 'ok' ? `ok (${outcome.detail})` : outcome.kind === 'hang' ? 'hang' : `${(outcome.error as Error)?.name ?? typeof outcome.error}: ${String((outcome.error as Error)?.message ?? outcome.error).slice(0, 160)}`;
  const problems: string[] = [];
  if (outcome.kind === 'hang') problems.push(`hang: no end within ${CASE_TIMEOUT_MS / 1000} s`);
  if (outcome.kind === 'error') {
    const why = checkError(outcome.error);
    if (why) problems.push(why);
  }
  if (result.problem) problems.push(result.problem);
  if (unhandled.length > 0) problems.push(`unhandled rejection or exception: ${unhandled.map((u) => (u instanceof Error ? `${u.name}: ${u.message}` : String(u))).join(' | ').slice(0, 400)}`);
  current = undefined;
  if (!(await storesSettled(c.tracker))) problems.push(`a KV store was begun and never disposed (${c.tracker.stores.map((s) => `${s.begun}/${s.disposed}`).join(', ')} begun/disposed)`);
  // The model still serves a plain request, and each well-behaved instance the case passed is free again.
  const plain = await bounded(() => collect(model.generate({ inputIds: [1, 9, 10], maxTokens: 2, ignoreEos: true })));
  if (plain === 'hang' || 'error' in plain || done(plain.value).rows[0]!.ids.length !== 2) {
    problems.push(`a plain request after the case failed: ${plain === 'hang' ? 'hang' : 'error' in plain ? String(plain.error) : 'wrong token count'}`);
  }
  const scored = await bounded(() => model.evaluate({ inputIds: [1, 9, 10, 11] }));
  if (scored === 'hang' || 'error' in scored || scored.value.tokens !== 3) {
    problems.push(`a plain evaluation after the case failed: ${scored === 'hang' ? 'hang' : 'error' in scored ? String(scored.error) : 'wrong token count'}`);
  }
  for (const own of c.tracker.reusable) {
    const again = await bounded(() => collect(model.generate({ inputIds: [1, 9, 10], maxTokens: 2, ...(own.kv ? { kv: own.kv } : {}), ...(own.router ? { router: own.router } : {}) })));
    if (again === 'hang' || 'error' in again) problems.push(`the case's ${own.kv ? 'store' : 'router'} instance cannot serve a plain request afterwards: ${again === 'hang' ? 'hang' : String((again.error as Error)?.message ?? again.error)}`);
  }
  return { verdict: problems.length > 0 ? problems.join('\n    ') : undefined, summary };
}

describe('request fuzzing', () => {
  /** A runtime with every compressor and router (nothing by default), and one with int4 and sink-window as its defaults. */
  const plainWeft = runtime([kvCompressors(), attentionRouters(), fuzzPlugin(() => current)]);
  const defaultsWeft = runtime([kvCompressors(), kvQuant({ bits: 4 }), sinkWindow({ sinks: 2, window: 14 }), fuzzPlugin(() => current)]);
  let plain: WeftModel;
  let withDefaults: WeftModel;
  beforeAll(async () => {
    plain = await plainWeft.load(fixture('tiny'));
    withDefaults = await defaultsWeft.load(fixture('tiny'));
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUnhandled);
    await Promise.all([plainWeft.dispose(), defaultsWeft.dispose()]);
  });

  it(
    `${SEEDS.length} seeded requests end in a well-formed result or a typed error, never a crash, hang or leak`,
    async () => {
      const failures: string[] = [];
      const outcomes = new Map<string, number>();
      const slowest: { seed: number; ms: number }[] = [];
      for (const seed of SEEDS) {
        const c = makeCase(seed);
        const model = seed % 4 === 3 ? withDefaults : plain;
        const started = performance.now();
        const { verdict, summary } = await runCase(model, c);
        slowest.push({ seed, ms: Math.round(performance.now() - started) });
        slowest.sort((a, b) => b.ms - a.ms).splice(5);
        const key = summary.startsWith('ok') ? `${c.api} ok` : summary === 'hang' ? 'hang' : summary.split(':')[0]!;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        if (VERBOSE) console.log(`seed ${seed}${model === withDefaults ? ' (defaults)' : ''}: ${c.description.slice(0, 600)}\n  → ${summary}${verdict ? `\n  ✗ ${verdict}` : ''}`);
        if (verdict) failures.push(`seed ${seed}${model === withDefaults ? ' (int4 + sink-window defaults)' : ''}: ${c.description.slice(0, 1500)}\n  → ${summary}\n  ✗ ${verdict}`);
      }
      console.log(`[request-fuzz] ${SEEDS.length} cases: ${[...outcomes].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ')}; ${failures.length} failed; slowest ${slowest.map((s) => `seed ${s.seed} ${s.ms} ms`).join(', ')}`);
      expect(failures, `reproduce with WEFT_REQUEST_FUZZ_SEEDS=<seed> npx vitest run packages/core/test/request-fuzz.test.ts\n${failures.join('\n')}`).toEqual([]);
    },
    SEEDS.length * 2_000 + 4 * CASE_TIMEOUT_MS,
  );
});
