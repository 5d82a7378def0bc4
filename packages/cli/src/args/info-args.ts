import { parseCommandArgs, type OptionSpecs } from './parse-command-args.js';
import { MODEL_OPTIONS, modelFlags, onnxFileFlag, type ModelFlags } from './shared-flags.js';

/** The flags of `weft info`: the model flags, `--onnx-file` and `--json`. */
export const INFO_OPTIONS = {
  ...MODEL_OPTIONS,
  'onnx-file': { type: 'string' },
  json: { type: 'boolean' },
} as const satisfies OptionSpecs;

export interface InfoArgs extends ModelFlags {
  readonly help: boolean;
  readonly json: boolean;
  /** `--onnx-file`: the graph within the model folder (default: the one `generate` would load). */
  readonly onnxFile: string | undefined;
}

/** Parses `weft info`'s flags; bad ones are usage errors. */
export function parseInfoArgs(args: readonly string[]): InfoArgs {
  const flags = parseCommandArgs('info', args, INFO_OPTIONS);
  if (flags.help) return { help: true, json: false, model: undefined, threads: undefined, backend: undefined, plugins: [], onnxFile: undefined };
  return { help: false, json: flags.flag('json'), ...modelFlags(flags), onnxFile: onnxFileFlag(flags) };
}
