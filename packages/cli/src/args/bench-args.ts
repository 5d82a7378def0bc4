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
export const BENCH_DEFAULT_THREADS = 1;

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
  const int = (name: string, fallback: number, min: number, max?: number): number =>
    optional(flags.string(name), (t) => parseInteger(name, t, min, max)) ?? fallback;
  if (flags.help) return { help: true, json: false, model: undefined, threads: 1, backend: 'node', tokens: 64, promptTokens: 32, batch: 1, runs: 5, warmup: 1 };
  const model = modelFlags(flags);
  return {
    help: false,
    json: flags.flag('json'),
    model: model.model,
    threads: model.threads ?? BENCH_DEFAULT_THREADS,
    // The bare loop is onnxruntime-node, so the SDK side defaults to the node backend too.
    backend: model.backend ?? 'node',
    tokens: int('tokens', 64, 1),
    promptTokens: int('prompt-tokens', 32, 1),
    batch: int('batch', 1, 1, 256),
    runs: int('runs', 5, 1),
    warmup: int('warmup', 1, 0),
  };
}
