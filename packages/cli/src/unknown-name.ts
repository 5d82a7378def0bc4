import { AdapterResolutionError, InvalidOptionsError, quoteValue } from '@weft/core';
import { unknownName } from './args/suggest.js';

/** The request field (a key of the command's flag map) that names an entry of each kind, and what the entry is called. */
const KINDS: Readonly<Record<string, { readonly field: string; readonly noun: string }>> = {
  'kv-cache': { field: 'kv', noun: 'store' },
  'attention-router': { field: 'router', noun: 'router' },
  'logits-processor': { field: 'processors', noun: 'processor' },
  sampler: { field: 'sampler', noun: 'sampler' },
  analyzer: { field: 'analyzers', noun: 'analyzer' },
  backend: { field: 'backend', noun: 'backend' },
};

/**
 * Core's `AdapterResolutionError` for a name the user gave a flag (`--kv int3`, `--backend npu`;
 * for a request's component, the cause of the request's `InvalidOptionsError`),
 * in the flag's words: an unknown name with the closest registered one and the list
 * (`--kv: unknown store "int3"; did you mean int4? (fp32, …)`), or for a registered entry that
 * cannot be used, why (`--backend npu is not available here: …`). Undefined for any other error,
 * and for a resolution the user's flags did not ask for (a plugin's own lookup), which keeps
 * core's message.
 *
 * @param flags the command's flag for each request field (see `GENERATE_FLAGS`)
 * @param args the command's arguments, whose flag values are matched against the error's name
 */
export function unknownNameLine(thrown: unknown, flags: Readonly<Record<string, string>>, args: readonly string[]): string | undefined {
  // A request's unknown name (`kv`) is an InvalidOptionsError whose cause is the resolution's error.
  const error = InvalidOptionsError.isInstance(thrown) && AdapterResolutionError.isInstance(thrown.cause) ? thrown.cause : thrown;
  if (!AdapterResolutionError.isInstance(error)) return undefined;
  const kind = KINDS[error.kind];
  const flag = kind === undefined ? undefined : flags[kind.field];
  if (kind === undefined || flag === undefined) return undefined;
  const head = `No ${error.kind} adapter matches `;
  const given = flagNames(flag, args).find((name) => [quoteValue(name), JSON.stringify(name), `"${name}"`].some((q) => error.message.startsWith(`${head}${q}:`)));
  if (given === undefined) return undefined;
  const rejections = error.rejections;
  const own = rejections.find((r) => r.name === given);
  if (own !== undefined) return `${flag} ${given} is not available here: ${own.reason.replace(/^unavailable: /, '')}`;
  const names = rejections.map((r) => r.name);
  return unknownName(flag, kind.noun, given, error.kind === 'backend' ? ['auto', ...names] : names);
}

/** The entry names `flag` was given in `args` (`--kv int4:group=32` and `--kv=int4` name `int4`). */
function flagNames(flag: string, args: readonly string[]): string[] {
  const names: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = arg === flag ? args[i + 1] : arg.startsWith(`${flag}=`) ? arg.slice(flag.length + 1) : undefined;
    if (value === undefined) continue;
    names.push(value, value.split(':')[0]!);
  }
  return names;
}
