import { ContextOverflowError, InvalidOptionsError, ModelLoadError, PluginError, WeftError } from '@weft/core';

/** Bad command-line input: reported as `weft: <message>` with exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The user interrupted a command (SIGINT) that has no partial result to print. */
export class InterruptedError extends Error {
  override readonly name = 'InterruptedError';
  constructor() {
    super('interrupted');
  }
}

/**
 * Exit codes of the `weft` command. `runCli` reports any interrupt as `interrupted`; the `weft`
 * binary exits with `terminated` instead when the interrupt was SIGTERM (128 + the signal's number,
 * as a shell reports a process the signal killed).
 */
export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130, terminated: 143 } as const;

/**
 * Exit code for an error: 2 for usage errors and Weft's typed errors, 130 for interrupts, else 1.
 * A plugin's own failure during a request (a `PluginError` from a processor, analyzer, hook or
 * store that threw or returned something invalid) is 1 as well: the plugin is at fault, not the
 * input. Only a `PluginError` caused by bad input (an `InvalidOptionsError`, such as options a
 * flag gave that the component refused, a `ModelLoadError` or a `ContextOverflowError`) stays 2.
 */
export function exitCodeOf(error: unknown): number {
  if (PluginError.isInstance(error)) return causedByInput(error.cause) ? EXIT.usage : EXIT.failure;
  if (error instanceof UsageError || WeftError.isInstance(error)) return EXIT.usage;
  if (error instanceof InterruptedError) return EXIT.interrupted;
  return EXIT.failure;
}

/** Whether a plugin failed because of what the user gave it (options, a model, a prompt too long), not a bug of its own. */
function causedByInput(cause: unknown): boolean {
  return InvalidOptionsError.isInstance(cause) || ModelLoadError.isInstance(cause) || ContextOverflowError.isInstance(cause);
}

/**
 * With `WEFT_DEBUG` set, what to print after the error line: the error's own stack, then the
 * stack of the innermost cause in its `cause` chain that is not one of Weft's or the CLI's own
 * errors (what a plugin or a library threw: where its author needs to look), when there is one.
 * The chain is followed at most 32 links deep, and never round a cycle.
 */
export function debugStacks(error: unknown): string {
  const stacks = [stackOf(error)];
  let innermost: unknown;
  const seen = new Set<unknown>([error]);
  for (let cause = causeOf(error), depth = 0; cause !== undefined && !seen.has(cause) && depth < 32; depth++) {
    seen.add(cause);
    if (attempt(() => cause instanceof Error && !WeftError.isInstance(cause) && !(cause instanceof UsageError)) === true) innermost = cause;
    cause = causeOf(cause);
  }
  if (innermost !== undefined) stacks.push(`Caused by: ${stackOf(innermost)}`);
  return `${stacks.join('\n')}\n`;
}

/** Longest stack {@link debugStacks} prints of one error (a plugin's may be any string). */
const MAX_STACK_CHARS = 64 * 1024;

/**
 * An error's stack (else `name: message`, else what `String` makes of it), cut to
 * {@link MAX_STACK_CHARS}; never throws, whatever a plugin's error does on reading.
 */
function stackOf(error: unknown): string {
  const text =
    attempt(() => {
      if (!(error instanceof Error)) return undefined;
      const stack: unknown = error.stack;
      return typeof stack === 'string' && stack !== '' ? stack : `${String(error.name)}: ${String(error.message)}`;
    }) ??
    attempt(() => String(error)) ??
    'an error that cannot be shown (reading it throws)';
  return text.length > MAX_STACK_CHARS ? `${text.slice(0, MAX_STACK_CHARS)}…(${text.length - MAX_STACK_CHARS} more characters)` : text;
}

/** `error.cause` for an Error, else undefined; undefined too when reading it throws. */
function causeOf(error: unknown): unknown {
  return attempt(() => (error instanceof Error ? error.cause : undefined));
}

/** What `read` returns, or undefined when it throws. */
function attempt<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

/** The flag of `weft generate` (and `demo`) that sets each request or load option core names in an `InvalidOptionsError`. */
export const GENERATE_FLAGS: Readonly<Record<string, string>> = {
  prompt: '--prompt',
  inputIds: '--prompt-ids',
  messages: '--messages',
  maxTokens: '--max-tokens',
  minTokens: '--min-tokens',
  temperature: '--temperature',
  topK: '--top-k',
  topP: '--top-p',
  minP: '--min-p',
  repetitionPenalty: '--repetition-penalty',
  seed: '--seed',
  stop: '--stop',
  kv: '--kv',
  router: '--router',
  processors: '--processor',
  sampler: '--sampler',
  analyzers: '--analyzer',
  onnxFile: '--onnx-file',
  backend: '--backend',
};

/**
 * {@link GENERATE_FLAGS} for one command line: a prompt or messages given in a file
 * (`--prompt-file`, `--messages-file`) are named by that flag.
 */
export function generateFlags(args: readonly string[]): Readonly<Record<string, string>> {
  const given = (flag: string) => args.some((a) => a === flag || a.startsWith(`${flag}=`));
  return {
    ...GENERATE_FLAGS,
    ...(given('--prompt-file') ? { prompt: '--prompt-file' } : {}),
    ...(given('--messages-file') ? { messages: '--messages-file' } : {}),
  };
}

/** The flags of `weft eval` that set request or load options core or a plugin may reject. */
export const EVAL_FLAGS: Readonly<Record<string, string>> = { kv: '--kv', router: '--router', onnxFile: '--onnx-file', backend: '--backend' };

/**
 * The error's message on one line (runtime messages sometimes span several). Core's option errors
 * name SDK fields (`inputIds`); with the command's `flags`, the flag that set the field comes
 * first, e.g. `--prompt-ids: …`.
 */
export function oneLine(error: unknown, flags: Readonly<Record<string, string>> = {}): string {
  const message = error instanceof Error ? error.message : String(error);
  const line = message.replace(/\s*\r?\n\s*/g, ' ').trim() || (error instanceof Error ? error.name : 'unknown error');
  const option = InvalidOptionsError.isInstance(error) ? error.option : undefined;
  // `kv.group` is set by the flag that sets `kv`, `processors[1].size` by the one that sets `processors`.
  const field = option === undefined || Object.hasOwn(flags, option) ? option : option.split(/[.[]/)[0]!;
  const flag = field !== undefined && Object.hasOwn(flags, field) ? flags[field] : undefined;
  if (flag !== undefined) return `${flag}: ${line}`;
  const rejected = rejectedOption(error, flags);
  return rejected ?? line;
}


/** Longest run of non-space characters an error line shows whole. */
export const MAX_ERROR_WORD = 200;

/**
 * `line` with each run of more than {@link MAX_ERROR_WORD} non-space characters (a value quoted
 * back, such as a 15 KB `--model` path, which a message may even quote twice) cut to its start
 * and end around the count of characters left out, so an error stays a line one can read.
 * Surrogate pairs are never split.
 */
export function shortenLongWords(line: string, max = MAX_ERROR_WORD): string {
  return line.replace(new RegExp(`\\S{${max + 1},}`, 'g'), (word) => {
    let head = word.slice(0, max - 60);
    if (/[\uD800-\uDBFF]$/.test(head)) head = head.slice(0, -1);
    let tail = word.slice(-40);
    if (/^[\uDC00-\uDFFF]/.test(tail)) tail = tail.slice(1);
    return `${head}…(${word.length - head.length - tail.length} characters)…${tail}`;
  });
}

/**
 * A component that refused what a flag asked of it after it was made (`--analyzer
 * attention-importance` on a graph without attentions): core reports a `PluginError` from that
 * stage whose cause is an `InvalidOptionsError` naming the request field (`analyzers`). The flag
 * is at fault, not the plugin, so the line starts with the flag and says what is wrong. (Options
 * a component refuses when it is made arrive as the request's own `InvalidOptionsError`, which
 * `oneLine` maps to its flag directly.)
 */
function rejectedOption(error: unknown, flags: Readonly<Record<string, string>>): string | undefined {
  if (!PluginError.isInstance(error) || !InvalidOptionsError.isInstance(error.cause)) return undefined;
  const field = (error.cause.option ?? '').split(/[.[]/)[0]!;
  if (!Object.hasOwn(flags, field)) return undefined;
  return `${flags[field]}: ${oneLine(error.cause)} (${error.plugin})`;
}
