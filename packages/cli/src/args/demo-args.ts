import { optional, parseInteger } from './numbers.js';
import { parseCommandArgs, type OptionSpecs } from './parse-command-args.js';
import { MODEL_OPTIONS, modelFlags, type ModelFlags } from './shared-flags.js';

export const DEMO_OPTIONS = {
  ...MODEL_OPTIONS,
  'max-tokens': { type: 'string' },
  seed: { type: 'string' },
  raw: { type: 'boolean' },
} as const satisfies OptionSpecs;

/** New tokens of a demo story when `--max-tokens` is not given. */
export const DEMO_MAX_TOKENS = 200;

export interface DemoArgs extends ModelFlags {
  readonly help: boolean;
  /** Undefined: {@link DEMO_MAX_TOKENS}. */
  readonly maxTokens: number | undefined;
  /** Undefined: a random seed (printed, so a story can be replayed). */
  readonly seed: number | undefined;
  /** `--raw`: the story as the model wrote it also on a terminal (control characters included). */
  readonly raw: boolean;
}

export function parseDemoArgs(args: readonly string[]): DemoArgs {
  const flags = parseCommandArgs('demo', args, DEMO_OPTIONS);
  if (flags.help) return { help: true, model: undefined, threads: undefined, backend: undefined, plugins: [], maxTokens: undefined, seed: undefined, raw: false };
  return {
    help: false,
    ...modelFlags(flags),
    maxTokens: optional(flags.string('max-tokens'), (t) => parseInteger('max-tokens', t, 1)),
    seed: optional(flags.string('seed'), (t) => parseInteger('seed', t, 0, 2 ** 32 - 1)),
    raw: flags.flag('raw'),
  };
}
