import type { GenerationRequest } from '@weft/core';
import { UsageError } from '../errors.js';
import { optional, parseDecimal, parseInteger } from './numbers.js';
import { parseCommandArgs, type OptionSpecs, type ParsedFlags } from './parse-command-args.js';
import { promptSource, type PromptFile } from './prompt-source.js';
import { compact, MODEL_OPTIONS, modelFlags, PIPELINE_OPTIONS, pipelineFlags, type ModelFlags } from './shared-flags.js';
import { parseNamedRef } from '@weft/core';

/**
 * The request flags `generate` and `chat` share, after the prompt: length, sampling, stop strings
 * and the components a request names (see {@link requestFlags}).
 */
export const REQUEST_OPTIONS = {
  'max-tokens': { type: 'string' },
  'min-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  'min-p': { type: 'string' },
  'repetition-penalty': { type: 'string' },
  seed: { type: 'string' },
  stop: { type: 'string', multiple: true },
  processor: { type: 'string', multiple: true },
  sampler: { type: 'string' },
  analyzer: { type: 'string', multiple: true },
} as const satisfies OptionSpecs;

/** `--json` and `--raw`, the output flags of `generate` and `chat` (see {@link outputFlags}). */
export const OUTPUT_OPTIONS = {
  json: { type: 'boolean' },
  raw: { type: 'boolean' },
} as const satisfies OptionSpecs;

export const GENERATE_OPTIONS = {
  ...MODEL_OPTIONS,
  ...PIPELINE_OPTIONS,
  prompt: { type: 'string' },
  'prompt-file': { type: 'string' },
  'prompt-ids': { type: 'string' },
  messages: { type: 'string' },
  'messages-file': { type: 'string' },
  ...REQUEST_OPTIONS,
  ...OUTPUT_OPTIONS,
} as const satisfies OptionSpecs;

export interface GenerateArgs extends ModelFlags {
  readonly onnxFile: string | undefined;
  /** `--prompt-file` or `--messages-file` (`-` = stdin): the request then has no prompt until the command reads it. */
  readonly promptFile: PromptFile | undefined;
  readonly help: boolean;
  readonly json: boolean;
  /** `--raw`: the text as the model wrote it also on a terminal (control characters included). */
  readonly raw: boolean;
  /** The request without `signal` (and without a prompt or messages when `promptFile` is set), validated. */
  readonly request: GenerationRequest;
}

export function parseGenerateArgs(args: readonly string[]): GenerateArgs {
  const flags = parseCommandArgs('generate', args, GENERATE_OPTIONS);
  if (flags.help) return { help: true, json: false, raw: false, model: undefined, threads: undefined, backend: undefined, plugins: [], onnxFile: undefined, promptFile: undefined, request: {} };
  const s = (name: string) => flags.string(name);
  const output = outputFlags(flags);
  const source = promptSource({ prompt: s('prompt'), promptIds: s('prompt-ids'), messages: s('messages'), promptFile: s('prompt-file'), messagesFile: s('messages-file') });
  const { request, onnxFile } = requestFlags(flags);
  return {
    help: false,
    ...output,
    ...modelFlags(flags),
    onnxFile,
    promptFile: 'file' in source ? source.file : undefined,
    request: { ...('file' in source ? {} : source), ...request },
  };
}

/** `--json` and `--raw` ({@link OUTPUT_OPTIONS}), refused together. */
export function outputFlags(flags: ParsedFlags): { readonly json: boolean; readonly raw: boolean } {
  if (flags.flag('raw') && flags.flag('json')) {
    throw new UsageError('--raw applies to the text output; --json escapes control characters itself, so give only one of --raw, --json');
  }
  return { json: flags.flag('json'), raw: flags.flag('raw') };
}

/**
 * The request fields (no prompt) that {@link REQUEST_OPTIONS} and `PIPELINE_OPTIONS` give,
 * validated, and `--onnx-file`: what `generate` and `chat` build each run's request from.
 */
export function requestFlags(flags: ParsedFlags): { readonly request: GenerationRequest; readonly onnxFile: string | undefined } {
  const s = (name: string) => flags.string(name);
  const stop = flags.strings('stop');
  const pipeline = pipelineFlags(flags);
  if (stop.some((x) => x === '')) throw new UsageError('--stop needs a non-empty string');
  const request: GenerationRequest = {
    ...compact({
      maxTokens: optional(s('max-tokens'), (t) => parseInteger('max-tokens', t, 1)),
      minTokens: optional(s('min-tokens'), (t) => parseInteger('min-tokens', t, 0)),
      temperature: optional(s('temperature'), (t) => parseDecimal('temperature', t, { ok: (v) => v >= 0, rule: 'a number >= 0 (0 = greedy)' })),
      topK: optional(s('top-k'), (t) => parseInteger('top-k', t, 0)),
      topP: optional(s('top-p'), (t) => parseDecimal('top-p', t, { ok: (v) => v <= 1, rule: 'a number in [0, 1]' })),
      minP: optional(s('min-p'), (t) => parseDecimal('min-p', t, { ok: (v) => v <= 1, rule: 'a number in [0, 1]' })),
      repetitionPenalty: optional(s('repetition-penalty'), (t) =>
        parseDecimal('repetition-penalty', t, { ok: (v) => v > 0, rule: 'a number > 0 (1 = off)' }),
      ),
      seed: optional(s('seed'), (t) => parseInteger('seed', t, 0, 2 ** 32 - 1)),
    }),
    ...(stop.length > 0 ? { stop } : {}),
    ...(pipeline.kv ? { kv: pipeline.kv } : {}),
    ...(pipeline.router ? { router: pipeline.router } : {}),
    ...componentFlags(flags),
  };
  return { request, onnxFile: pipeline.onnxFile };
}

/**
 * `--processor NAME[:k=v,…]` (repeatable, applied in order), `--sampler NAME[:k=v,…]` and
 * `--analyzer NAME[:k=v,…]` (repeatable): registry entries by name, the bundled ones or a
 * `--plugin`'s.
 */
function componentFlags(flags: ParsedFlags): Pick<GenerationRequest, 'processors' | 'sampler' | 'analyzers'> {
  const processors = flags.strings('processor').map((t) => parseNamedRef(t, '--processor'));
  const analyzers = flags.strings('analyzer').map((t) => parseNamedRef(t, '--analyzer'));
  const sampler = flags.string('sampler');
  return {
    ...(processors.length > 0 ? { processors } : {}),
    ...(analyzers.length > 0 ? { analyzers } : {}),
    ...(sampler === undefined ? {} : { sampler: parseNamedRef(sampler, '--sampler') }),
  };
}
