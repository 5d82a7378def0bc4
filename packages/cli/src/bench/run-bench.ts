import { NodeSession } from '@weft/backend-node';
import { InvalidOptionsError, median, type WeftModel } from '@weft/core';
import { InterruptedError } from '../errors.js';
import { openModel, type BackendChoice } from '../open-model.js';
import { BareGreedyLoop } from './bare-loop.js';
import { benchPromptIds } from './bench-prompt.js';
import { sdkGreedyRun, type EngineRun } from './sdk-run.js';
import { medianTiming, runTiming, type RunTiming } from './timing.js';

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
  readonly signal?: AbortSignal;
}

export interface EngineSummary extends RunTiming {
  /** Every timed run, in the order run. */
  readonly runs: readonly RunTiming[];
}

export interface BenchReport {
  readonly model: string;
  readonly backend: string;
  readonly threads: number;
  readonly promptTokens: number;
  readonly requestedTokens: number;
  /** New tokens per row each run produced (fewer than requested when the model emitted EOS). */
  readonly generatedTokens: number;
  readonly batch: number;
  readonly runs: number;
  readonly warmup: number;
  /**
   * Whether both loops ran on Weft's onnxruntime-node session (the SDK side on `node`). Otherwise
   * the bare loop had a session of its own, and each run that follows the other loop's starts
   * with the other session's weights in the CPU caches: its prefill is slower (see docs/benchmarks.md).
   */
  readonly sharedSession: boolean;
  readonly weft: EngineSummary;
  readonly bare: EngineSummary;
  /** Weft / bare for each median (above 1 = Weft is slower, for tokens/s below 1). */
  readonly ratio: RunTiming;
  /** Median over Weft's timed runs of step 0's `setupMs`: the run's start to its first forward pass. */
  readonly weftSetupMs: number;
  /** Whether every run of both engines produced the first Weft run's ids. */
  readonly idsMatch: boolean;
  readonly ids: readonly number[];
}

/**
 * Alternates Weft's greedy loop (A) and the bare onnxruntime-node loop (B) in one process, pair
 * by pair in the order A/B, B/A, A/B…, on the same prompt ids and session options. The first pair
 * runs Weft first, which fixes the token count the bare loop then generates in every run. Warm-up
 * pairs are excluded from the medians; timed pairs are rounded up to an even number so each engine
 * leads equally often.
 */
export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const session = { intraOpNumThreads: options.threads };
  const { model, close } = await openModel(options.model, session, options.backend ?? 'node');
  let bare: BareGreedyLoop | undefined;
  try {
    // One session for both when Weft runs on onnxruntime-node: two sessions run in turn evict each
    // other's weights from the caches, which makes every other prefill much slower and the medians
    // straddle two modes.
    const shared = model.session instanceof NodeSession ? model.session.ortSession : undefined;
    bare = shared ? await BareGreedyLoop.onSession(options.model, shared) : await BareGreedyLoop.load(options.model, session);
    const prompt = benchPromptIds(model.tokenizer, options.promptTokens);
    checkFits(model, options);
    const prompts = Array.from({ length: options.batch }, () => prompt);
    let expected: number[][] | undefined;
    let idsMatch = true;
    const timed = { weft: [] as RunTiming[], bare: [] as RunTiming[] };
    const setupMs: number[] = [];
    const record = (engine: 'weft' | 'bare', run: EngineRun, counted: boolean): void => {
      expected ??= run.ids;
      if (JSON.stringify(run.ids) !== JSON.stringify(expected)) idsMatch = false;
      if (counted) timed[engine].push({ ttftMs: run.ttftMs, msPerToken: run.msPerToken, tokensPerSecond: run.tokensPerSecond });
      if (counted && run.setupMs !== undefined) setupMs.push(run.setupMs);
    };
    const runWeft = async (counted: boolean) => record('weft', await sdkGreedyRun(model, prompts, options.tokens), counted);
    const runBare = async (counted: boolean) => {
      const count = expected![0]!.length;
      if (count === 0) throw new Error('Weft generated no tokens (the model ended the prompt at once); pick another --prompt-tokens');
      const start = performance.now();
      const result = await bare!.generate(prompts, count);
      record('bare', { ids: result.ids, ...runTiming(start, result.tokenTimes, options.batch) }, counted);
    };
    // An even number of timed pairs, so each engine runs first exactly as often as second (the
    // first run of a pair is measurably slower on a busy machine; uneven counts bias the medians).
    const timedPairs = options.runs + (options.runs % 2);
    for (let pair = 0; pair < options.warmup + timedPairs; pair++) {
      const counted = pair >= options.warmup;
      const order = pair === 0 || (counted && (pair - options.warmup) % 2 === 0) ? [runWeft, runBare] : [runBare, runWeft];
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
      requestedTokens: options.tokens,
      generatedTokens: expected![0]!.length,
      batch: options.batch,
      runs: timedPairs,
      warmup: options.warmup,
      sharedSession: shared !== undefined,
      weft,
      bare: bareSummary,
      ratio: {
        ttftMs: ratio(weft.ttftMs, bareSummary.ttftMs),
        msPerToken: ratio(weft.msPerToken, bareSummary.msPerToken),
        tokensPerSecond: ratio(weft.tokensPerSecond, bareSummary.tokensPerSecond),
      },
      weftSetupMs: median(setupMs),
      idsMatch,
      ids: expected![0]!,
    };
  } finally {
    await bare?.release();
    await close();
  }
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
