import type { GenerationRequest } from '@weft/core';
import { UsageError } from '../errors.js';
import { OUTPUT_OPTIONS, outputFlags, REQUEST_OPTIONS, requestFlags } from './generate-args.js';
import { parseCommandArgs, type OptionSpecs } from './parse-command-args.js';
import { MODEL_OPTIONS, modelFlags, PIPELINE_OPTIONS, type ModelFlags } from './shared-flags.js';

/** The flags of `weft chat`: generate's, with `--system` in place of the prompt flags. */
export const CHAT_OPTIONS = {
  ...MODEL_OPTIONS,
  ...PIPELINE_OPTIONS,
  system: { type: 'string' },
  ...REQUEST_OPTIONS,
  ...OUTPUT_OPTIONS,
  'no-prompt-cache': { type: 'boolean' },
} as const satisfies OptionSpecs;

export interface ChatArgs extends ModelFlags {
  readonly help: boolean;
  readonly json: boolean;
  /** `--raw`: the replies as the model wrote them also on a terminal (control characters included). */
  readonly raw: boolean;
  readonly onnxFile: string | undefined;
  /** `--system TEXT`: the system message every rendering of the conversation starts with. */
  readonly system: string | undefined;
  /** What every turn's request holds besides its messages and signal, validated as `generate` validates it. */
  readonly request: GenerationRequest;
  /**
   * Whether the session keeps one prompt cache, so each turn prefills only what the last turn did
   * not feed (off with `--no-prompt-cache`).
   */
  readonly promptCache: boolean;
}

export function parseChatArgs(args: readonly string[]): ChatArgs {
  const flags = parseCommandArgs('chat', args, CHAT_OPTIONS);
  if (flags.help) return { help: true, json: false, raw: false, model: undefined, threads: undefined, backend: undefined, plugins: [], onnxFile: undefined, system: undefined, request: {}, promptCache: false };
  const output = outputFlags(flags);
  const system = flags.string('system');
  if (system !== undefined && system.trim() === '') throw new UsageError('--system is empty; leave it out for a conversation without a system message');
  const { request, onnxFile } = requestFlags(flags);
  // A router that cannot resume a cache (heavy-hitter, say) gets the cache refused by core: the
  // session then goes on without it, after a note.
  const promptCache = !flags.flag('no-prompt-cache');
  return { help: false, ...output, ...modelFlags(flags), onnxFile, system, request, promptCache };
}
