import { NodeSession } from '@weft/backend-node';
import { InvalidOptionsError, median, type WeftModel } from '@weft/core';
import { InterruptedError } from '../errors.js';
import { openModel, type BackendChoice } from '../open-model.js';
import type { CliPlugin } from '../plugins/load-plugins.js';
import { BareGreedyLoop } from './bare-loop.js';
import { benchPromptIds } from './bench-prompt.js';
import { sdkGreedyRun, type EngineRun } from './sdk-run.js';
import { medianTiming, runTiming, type RunTiming } from './timing.js';

/** What `runBench` measures: the model, the request's shape and how many runs. */
export interface BenchOptions {
  readonly model: string;
  /** Intra-op threads of both sessions (0 = runtime default). */
  readonly threads: number;
  readonly tokens: number;
  readonly promptTokens: number;
  readonly batch: number;
  readonly runs: number;
  readonly warmup: number;
  /** Backend of the SDK side (default node, like the bare loop). */
  readonly backend?: BackendChoice;
  /**
   * Plugins installed in the SDK side's runtime after the bundled ones (`weft bench --plugin`):
   * their hooks run in every Weft run, so the report times them; the bare loop has none.
   */
  readonly plugins?: readonly CliPlugin[];
  /** Told a line when the load goes on without something it would have used (see `Pipeline.note`). */
  readonly note?: (line: string) => void;
  readonly signal?: AbortSignal;
}

/** One loop's medians over the timed runs, and the runs themselves. */
export interface EngineSummary extends RunTiming {
  /** Every timed run, in the order run. */
  readonly runs: readonly RunTiming[];
}

/** Milliseconds inside the backend's `run` (medians over timed runs). */
export interface InsideRun {
  readonly prefillMs: number;
  readonly stepMs: number;
}

/** What `weft bench` prints (as JSON with `--json`): both loops' medians, their ratios and what Weft adds. */
export interface BenchReport {
  readonly model: string;
  readonly backend: string;
  readonly threads: number;
  readonly promptTokens: number;
  /** New tokens per row of every run of both loops (EOS is generated through, like any token). */
  readonly tokens: number;
  readonly batch: number;
  readonly runs: number;
  readonly warmup: number;
  /**
   * Whether both loops ran on Weft's onnxruntime-node session (the SDK side on `node`). Otherwise
   * the bare loop had a session of its own, and each run that follows the other loop's starts
   * with the other session's weights in the CPU caches: its prefill is slower (see docs/benchmarks.md).
   */
  readonly sharedSession: boolean;
  /**
   * Whether both loops ran on onnxruntime-node (the SDK side's session is onnxruntime-node's, as on
   * the `node` backend). Otherwise, `--backend web` say, the two sides run on different runtimes:
   * {@link added} and {@link ratio} then compare the runtimes as much as the loops, and are not
   * what Weft adds.
   */
  readonly sameRuntime: boolean;
  readonly weft: EngineSummary;
  readonly bare: EngineSummary;
  /** Weft / bare for each median (above 1 = Weft is slower, for tokens/s below 1). */
  readonly ratio: RunTiming;
  /**
   * What Weft adds in absolute time: the median over timed pairs of Weft's run minus the bare
   * loop's run of the same pair, for the first token and for ms/token. Pairing cancels drift
   * that both loops of a pair share (a busy machine, a warming CPU). Only with
   * {@link sameRuntime}; otherwise the difference is mostly the two runtimes'.
   */
  readonly added: { readonly ttftMs: number; readonly msPerToken: number };
  /** Median over Weft's timed runs of step 0's `setupMs`: the run's start to its first forward pass. */
  readonly weftSetupMs: number;
  /**
   * Time inside the backend's `run` alone, per loop: the median over timed runs of the prefill's
   * run, and of each run's median decode-step run. What the loops add around the run is the rest
   * of TTFT and ms/token; a difference here is the runtime itself running slower in one loop's
   * runs (garbage collection and cache effects, see docs/benchmarks.md).
   */
  readonly insideRun: { readonly weft: InsideRun; readonly bare: InsideRun };
  /** Whether every run of both engines produced the first Weft run's ids. */
  readonly idsMatch: boolean;
  readonly ids: readonly number[];
}

/**
 * Alternates Weft's greedy loop (A) and the bare onnxruntime-node loop (B) in one process, pair
 * by pair in the order A/B, B/A, A/B…, on the same prompt ids and session options; both generate
 * exactly `tokens` tokens per row (Weft with `ignoreEos`). Warm-up pairs are excluded from the
 * medians; `runs` timed pairs must be even, so each engine leads equally often. An aborted
 * `signal` stops the current run and rejects with {@link InterruptedError}.
 */
export async function runBench(options: BenchOptions): Promise<BenchReport> {
  if (!Number.isInteger(options.tokens) || options.tokens < 2) {
    throw new InvalidOptionsError(`tokens must be an integer >= 2 (got ${options.tokens}): ms/token is timed between consecutive tokens.`, { option: 'tokens' });
  }
  if (!Number.isInteger(options.runs) || options.runs < 2 || options.runs % 2 !== 0) {
    throw new InvalidOptionsError(`runs must be an even number >= 2, so each loop runs first in half of the pairs (got ${options.runs}).`, { option: 'runs' });
  }
  const session = { intraOpNumThreads: options.threads };
  const { model, close } = await openModel(options.model, session, options.backend ?? 'node', { plugins: options.plugins, note: options.note }, options.signal);
  let bare: BareGreedyLoop | undefined;
  try {
    // Before building the prompt, whose cost grows with its length.
    checkFits(model, options);
    // One session for both when Weft runs on onnxruntime-node: two sessions run in turn evict each
    // other's weights from the caches, which makes every other prefill much slower and the medians
    // straddle two modes.
    const shared = model.session instanceof NodeSession ? model.session.ortSession : undefined;
    bare = shared ? await BareGreedyLoop.onSession(options.model, shared) : await BareGreedyLoop.load(options.model, session);
    const prompt = benchPromptIds(model.tokenizer, options.promptTokens, options.signal);
    const prompts = Array.from({ length: options.batch }, () => prompt);
    let expected: number[][] | undefined;
    let idsMatch = true;
    const timed = { weft: [] as RunTiming[], bare: [] as RunTiming[] };
    const setupMs: number[] = [];
    const runMs = { weft: { prefill: [] as number[], step: [] as number[] }, bare: { prefill: [] as number[], step: [] as number[] } };
    const record = (engine: 'weft' | 'bare', run: EngineRun, counted: boolean): void => {
      expected ??= run.ids;
      if (JSON.stringify(run.ids) !== JSON.stringify(expected)) idsMatch = false;
      if (counted) timed[engine].push({ ttftMs: run.ttftMs, msPerToken: run.msPerToken, tokensPerSecond: run.tokensPerSecond });
      if (counted && run.runMs.length > 1) {
        runMs[engine].prefill.push(run.runMs[0]!);
        runMs[engine].step.push(median(run.runMs.slice(1)));
      }
      if (counted && run.setupMs !== undefined) setupMs.push(run.setupMs);
    };
    // A run cut short by the signal is not recorded: its ids and timings cover fewer steps.
    const interrupted = (): void => {
      if (options.signal?.aborted) throw new InterruptedError();
    };
    const runWeft = async (counted: boolean) => {
      const run = await sdkGreedyRun(model, prompts, options.tokens, options.signal);
      interrupted();
      record('weft', run, counted);
    };
    const runBare = async (counted: boolean) => {
      const start = performance.now();
      const result = await bare!.generate(prompts, options.tokens, options.signal);
      interrupted();
      record('bare', { ids: result.ids, runMs: result.runMs, ...runTiming(start, result.tokenTimes, options.batch) }, counted);
    };
    // An even number of timed pairs, so each engine runs first exactly as often as second (the
    // first run of a pair is measurably slower on a busy machine; uneven counts bias the medians).
    const timedPairs = options.runs;
    for (let pair = 0; pair < options.warmup + timedPairs; pair++) {
      const counted = pair >= options.warmup;
      // Warm-up and timed pairs each start with A/B.
      const order = (counted ? pair - options.warmup : pair) % 2 === 0 ? [runWeft, runBare] : [runBare, runWeft];
      for (const run of order) {
        if (options.signal?.aborted) throw new InterruptedError();
        (globalThis as { gc?: () => void }).gc?.();
        await run(counted);
      }
    }
    const weft = { ...medianTiming(timed.weft), runs: timed.weft };
    const bareSummary = { ...medianTiming(timed.bare), runs: timed.bare };
    const ratio = (a: number, b: number): number => (b > 0 ? a / b : Number.NaN);
    return {
      model: options.model,
      backend: model.backend,
      threads: options.threads,
      promptTokens: prompt.length,
      tokens: options.tokens,
      batch: options.batch,
      runs: timedPairs,
      warmup: options.warmup,
      sharedSession: shared !== undefined,
      // The bare loop always runs on onnxruntime-node; the SDK side does when its session is a NodeSession.
      sameRuntime: shared !== undefined,
      weft,
      bare: bareSummary,
      ratio: {
        ttftMs: ratio(weft.ttftMs, bareSummary.ttftMs),
        msPerToken: ratio(weft.msPerToken, bareSummary.msPerToken),
        tokensPerSecond: ratio(weft.tokensPerSecond, bareSummary.tokensPerSecond),
      },
      added: {
        ttftMs: pairedDifference(timed.weft, timed.bare, 'ttftMs'),
        msPerToken: pairedDifference(timed.weft, timed.bare, 'msPerToken'),
      },
      weftSetupMs: median(setupMs),
      insideRun: {
        weft: { prefillMs: median(runMs.weft.prefill), stepMs: median(runMs.weft.step) },
        bare: { prefillMs: median(runMs.bare.prefill), stepMs: median(runMs.bare.step) },
      },
      idsMatch,
      ids: expected![0]!,
    };
  } finally {
    await bare?.release();
    await close();
  }
}

/** Median over pairs of `a[i][key] - b[i][key]` (runs recorded pair by pair). */
export function pairedDifference(a: readonly RunTiming[], b: readonly RunTiming[], key: 'ttftMs' | 'msPerToken'): number {
  const pairs = Math.min(a.length, b.length);
  const differences: number[] = [];
  for (let i = 0; i < pairs; i++) differences.push(a[i]![key] - b[i]![key]);
  return median(differences);
}

function checkFits(model: WeftModel, options: BenchOptions): void {
  const context = model.config.maxPositions;
  if (options.promptTokens + options.tokens > context) {
    throw new InvalidOptionsError(
      `--prompt-tokens ${options.promptTokens} + --tokens ${options.tokens} exceed the model's context of ${context} tokens.`,
      { option: 'tokens' },
    );
  }
}
