import { UsageError } from '../errors.js';
import { expandHome } from './home-path.js';
import { optional, parseInteger } from './numbers.js';
import { parseCommandArgs, type OptionSpecs } from './parse-command-args.js';
import { MODEL_OPTIONS, modelFlags, PIPELINE_OPTIONS, pipelineFlags, type ModelFlags, type PipelineFlags } from './shared-flags.js';

export const EVAL_OPTIONS = {
  ...MODEL_OPTIONS,
  ...PIPELINE_OPTIONS,
  'text-file': { type: 'string' },
  prefill: { type: 'string' },
  json: { type: 'boolean' },
} as const satisfies OptionSpecs;

export interface EvalArgs extends ModelFlags, PipelineFlags {
  readonly help: boolean;
  readonly json: boolean;
  /** `--text-file` (`-` = stdin), with a leading `~` or `~/` made the home directory. */
  readonly textFile: string;
  /** Tokens of each document fed in the first forward pass (capped at its length − 1). */
  readonly prefill: number;
}

export function parseEvalArgs(args: readonly string[]): EvalArgs {
  const flags = parseCommandArgs('eval', args, EVAL_OPTIONS);
  const base = { help: flags.help, json: flags.flag('json') };
  if (flags.help) return { ...base, model: undefined, threads: undefined, backend: undefined, plugins: [], kv: undefined, router: undefined, onnxFile: undefined, textFile: '', prefill: 1 };
  const textFile = flags.string('text-file');
  if (textFile === undefined || textFile === '') throw new UsageError('eval needs --text-file FILE (documents separated by blank lines)');
  return { ...base, ...modelFlags(flags), ...pipelineFlags(flags), textFile: expandHome(textFile, '--text-file'), prefill: optional(flags.string('prefill'), (t) => parseInteger('prefill', t, 1)) ?? 1 };
}
