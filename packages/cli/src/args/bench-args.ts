import { UsageError } from '../errors.js';
import { BENCH_DEFAULTS, MAX_RUNS, MAX_WARMUP } from './bench-defaults.js';
import { optional, parseInteger } from './numbers.js';
import { parseCommandArgs, type OptionSpecs } from './parse-command-args.js';
import { MODEL_OPTIONS, modelFlags, type ModelFlags } from './shared-flags.js';

export const BENCH_OPTIONS = {
  ...MODEL_OPTIONS,
  tokens: { type: 'string' },
  'prompt-tokens': { type: 'string' },
  batch: { type: 'string' },
  runs: { type: 'string' },
  warmup: { type: 'string' },
  json: { type: 'boolean' },
} as const satisfies OptionSpecs;

/** Default intra-op threads of the benchmark: one, so results do not depend on the core count. */
export const BENCH_DEFAULT_THREADS = BENCH_DEFAULTS.threads;

export interface BenchArgs extends ModelFlags {
  readonly help: boolean;
  readonly json: boolean;
  readonly tokens: number;
  readonly promptTokens: number;
  readonly batch: number;
  readonly runs: number;
  readonly warmup: number;
  readonly threads: number;
}

export function parseBenchArgs(args: readonly string[]): BenchArgs {
  const flags = parseCommandArgs('bench', args, BENCH_OPTIONS);
  const int = (name: string, fallback: number, min: number, max?: number, why?: string): number =>
    optional(flags.string(name), (t) => parseInteger(name, t, min, max, why)) ?? fallback;
  const d = BENCH_DEFAULTS;
  if (flags.help) return { help: true, json: false, model: undefined, backend: 'node', plugins: [], ...d };
  const model = modelFlags(flags);
  const tokens = int('tokens', d.tokens, 2, undefined, 'ms/token is timed between consecutive tokens');
  const runs = int('runs', d.runs, 2, MAX_RUNS, 'the loops run in pairs, each leading half of them');
  if (runs % 2 !== 0) {
    throw new UsageError(`--runs must be even, so each loop runs first in half of the pairs (got ${runs}; use ${runs - 1} or ${runs + 1})`);
  }
  return {
    help: false,
    json: flags.flag('json'),
    model: model.model,
    threads: model.threads ?? BENCH_DEFAULT_THREADS,
    // The bare loop is onnxruntime-node, so the SDK side defaults to the node backend too.
    backend: model.backend ?? 'node',
    plugins: model.plugins,
    tokens,
    promptTokens: int('prompt-tokens', d.promptTokens, 1),
    batch: int('batch', d.batch, 1, 256),
    runs,
    warmup: int('warmup', d.warmup, 0, MAX_WARMUP),
  };
}
