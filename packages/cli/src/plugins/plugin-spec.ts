import { InvalidOptionsError, parseNamedRef } from '@weft/core';
import { UsageError } from '../errors.js';

/** One `--plugin SPEC[:key=value,…]`: the module to import and the options for its factory. */
export interface PluginSpec {
  /** The flag's value as given, to name it in errors. */
  readonly text: string;
  /** A file path (`./my-plugin.mjs`, `~/x.mjs`, `file:///…`) or a package name with an optional subpath. */
  readonly module: string;
  /** `key=value` pairs after the module, parsed as `--kv NAME:k=v` parses them; undefined when none. */
  readonly options: Readonly<Record<string, unknown>> | undefined;
}

/**
 * Where the options start: the first `:` followed by `key=`. A path or package name never has
 * that (a Windows drive, `C:\…`, is followed by a separator; a package name has no `:`), so the
 * module part may itself hold colons and the values may hold `:` too (`url=http://…`).
 */
const OPTIONS_START = /:(?=\s*[A-Za-z_$][\w$.-]*\s*=)/;

/**
 * Splits `--plugin ./my-plugin.mjs:window=8,label=on` into the module and its options. Values are
 * converted as for `--kv` (numbers, `true`/`false`, else strings), by core's `parseNamedRef`.
 */
export function parsePluginSpec(text: string): PluginSpec {
  if (text.trim() === '') throw new UsageError('--plugin needs a file path (./my-plugin.mjs) or a package name');
  const match = OPTIONS_START.exec(text);
  if (match === null) return { text, module: text, options: undefined };
  const module = text.slice(0, match.index);
  const rest = text.slice(match.index + 1);
  if (module.trim() === '') throw new UsageError(`--plugin ${text}: the module is missing before the options; write --plugin ./my-plugin.mjs:${rest}`);
  // parseNamedRef wants a NAME it can check; the module is not one, so it gets a stand-in.
  const standIn = `plugin:${rest}`;
  let ref: ReturnType<typeof parseNamedRef>;
  try {
    ref = parseNamedRef(standIn, '--plugin');
  } catch (error) {
    if (!InvalidOptionsError.isInstance(error)) throw error;
    const reason = error.message.replace(/^--plugin: /, '').replace(JSON.stringify(standIn), JSON.stringify(text));
    throw new UsageError(`--plugin ${text}: ${reason}`);
  }
  return { text, module, options: ref.options };
}
