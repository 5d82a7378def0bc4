import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';
import { didYouMean } from './suggest.js';

/** Flag definitions as `node:util` parseArgs takes them. */
export type OptionSpecs = NonNullable<ParseArgsConfig['options']>;

/** Flags every command accepts. */
export const COMMON_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionSpecs;

/** Typed reads of parsed flags. */
export interface ParsedFlags {
  readonly help: boolean;
  string(name: string): string | undefined;
  strings(name: string): string[];
  flag(name: string): boolean;
}

/**
 * Parses a command's flags strictly: unknown flags, positionals, missing values, and a
 * single-valued flag given twice are usage errors naming the command.
 */
export function parseCommandArgs(command: string, args: readonly string[], options: OptionSpecs): ParsedFlags {
  const specs: OptionSpecs = { ...COMMON_OPTIONS, ...options };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...args], options: specs, strict: true, allowPositionals: false, tokens: true });
  } catch (error) {
    throw new UsageError(`${describeParseError(error, Object.keys(specs))}${positionalHint(command, args, error)} (see weft ${command} --help)`);
  }
  const seen = new Set<string>();
  for (const token of parsed.tokens ?? []) {
    if (token.kind !== 'option') continue;
    if (seen.has(token.name) && specs[token.name]?.multiple !== true) {
      throw new UsageError(`--${token.name} was given more than once`);
    }
    seen.add(token.name);
  }
  const values = parsed.values as Record<string, string | boolean | (string | boolean)[] | undefined>;
  return {
    help: values['help'] === true,
    string: (name) => {
      const v = values[name];
      return typeof v === 'string' ? v : undefined;
    },
    strings: (name) => {
      const v = values[name];
      return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : [];
    },
    flag: (name) => values[name] === true,
  };
}

/**
 * Where a stray word belongs in `generate`, which takes its prompt in a flag: `weft generate "Once
 * upon a time"` is told to put it after `--prompt`, and `--prompt Once upon a time` to quote it;
 * in `chat`, which reads its messages from standard input.
 */
function positionalHint(command: string, args: readonly string[], error: unknown): string {
  if ((error as { code?: unknown }).code !== 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return '';
  if (command === 'chat') return ' (weft chat reads its messages from standard input, one per line)';
  if (command !== 'generate') return '';
  const prompted = args.some((a) => a === '--prompt' || a.startsWith('--prompt='));
  return prompted ? ' (quote a prompt of several words: --prompt "Once upon a time")' : ' (a prompt goes after --prompt)';
}

/**
 * Node's parseArgs messages, shortened to their first sentence and lower-cased; an unknown
 * `--flag` close to one of the command's `options` names that one.
 */
function describeParseError(error: unknown, options: readonly string[]): string {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  const quoted = /'([^']+)'/.exec(message)?.[1];
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${quoted ?? message}${quoted?.startsWith('--') ? didYouMean(quoted, options.map((o) => `--${o}`)) : ''}`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${JSON.stringify(quoted ?? message)}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const flag = quoted?.split(' ')[0] ?? 'an option';
      if (/does not take an argument/.test(message)) return `${flag} does not take a value`;
      if (/ambiguous/.test(message)) return `${flag} needs a value; write ${flag}=VALUE for a value that starts with "-"`;
      return `${flag} needs a value`;
    }
    default:
      return message.split(/\.\s/)[0] ?? message;
  }
}
