import { spawnSync } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describeCause, WEFT_PLUGIN, type WeftPlugin } from '@weft/core';
import { InterruptedError, UsageError } from '../errors.js';
import type { PluginSpec } from './plugin-spec.js';
import { resolvePluginModule } from './resolve-plugin-module.js';

/** A plugin a `--plugin` flag gave, with the flag's value to name it in errors. */
export interface CliPlugin {
  /** The flag's value as given (`./my-plugin.mjs:window=8`). */
  readonly spec: string;
  readonly plugin: WeftPlugin;
}

/** What `--plugin` takes from a module, in the words of its errors. */
export const EXPORT_RULE =
  'a plugin made with definePlugin(), or a function that returns one, as the export named "plugin" or else the default export';

/**
 * Imports each `--plugin` module, in order, and takes its plugin: the module's export named
 * `plugin`, or else its default export, is either a plugin (what `definePlugin` returns; any
 * object with a `setup` function, which the runtime then checks as it checks every manifest) or a
 * factory: a function called with the spec's options (`SPEC:key=value,…`, as one object) or with
 * no argument, returning a plugin or a promise of one. Anything else is a usage error that names
 * the module and says what it exported; so is a module that cannot be found or imported, or a
 * factory that throws. The plugins are not installed here (see `openModel`).
 *
 * @param base where relative paths and package names are resolved from (the invocation directory)
 * @param signal stops waiting for an import or a factory (rejects with {@link InterruptedError})
 */
export async function loadPlugins(
  specs: readonly PluginSpec[],
  base: string = process.cwd(),
  signal?: AbortSignal,
  timeoutMs: number = PLUGIN_LOAD_TIMEOUT_MS,
): Promise<CliPlugin[]> {
  const loaded: CliPlugin[] = [];
  for (const spec of specs) {
    if (signal?.aborted) throw new InterruptedError();
    loaded.push({ spec: spec.text, plugin: await loadPlugin(spec, base, signal, timeoutMs) });
  }
  return loaded;
}

/**
 * How long a `--plugin` module's import, and then its factory, may take: as long as core gives a
 * plugin's `setup` by default. A module whose top-level code waits on something that never comes
 * is then a usage error, not a hang or a silent exit.
 */
export const PLUGIN_LOAD_TIMEOUT_MS = 30_000;

async function loadPlugin(spec: PluginSpec, base: string, signal: AbortSignal | undefined, timeoutMs: number): Promise<WeftPlugin> {
  const file = resolvePluginModule(spec, base);
  const fail = (reason: string, cause?: unknown): UsageError => new UsageError(`--plugin ${spec.text}: ${reason}`, cause === undefined ? {} : { cause });
  let namespace: Record<string, unknown>;
  try {
    namespace = await untilSettled(import(pathToFileURL(file).href) as Promise<Record<string, unknown>>, signal, timeoutMs);
  } catch (error) {
    if (error instanceof InterruptedError) throw error;
    if (error instanceof LoadTimeout) {
      throw fail(`importing ${file} did not finish within ${timeoutMs} ms: its top-level code waits for something that does not come (a top-level await?)`);
    }
    throw fail(importFailure(error, file), error);
  }
  const named = 'plugin' in namespace;
  if (!named && !('default' in namespace)) {
    const names = Object.keys(namespace);
    throw fail(`${file} exports no plugin (${names.length === 0 ? 'it exports nothing' : `its exports: ${list(names)}`}); --plugin takes ${EXPORT_RULE}`);
  }
  const label = `${named ? 'export "plugin"' : 'default export'} of ${file}`;
  const value = named ? namespace['plugin'] : namespace['default'];
  if (typeof value === 'function') {
    let made: unknown;
    try {
      made = await untilSettled(Promise.resolve().then(() => (spec.options === undefined ? value() : value(spec.options)) as unknown), signal, timeoutMs);
    } catch (error) {
      if (error instanceof InterruptedError) throw error;
      if (error instanceof LoadTimeout) throw fail(`the ${label} (a function, called to make the plugin) did not return a plugin within ${timeoutMs} ms (a promise that never settles?)`);
      throw fail(`the ${label} (a function, called to make the plugin) failed: ${describeCause(error)}`, error);
    }
    if (!isPlugin(made)) throw fail(`the ${label} is a function, but it returned ${describeValue(made)}, not a plugin; --plugin takes ${EXPORT_RULE}`);
    return made;
  }
  if (isPlugin(value)) {
    if (spec.options !== undefined) {
      throw fail(`the ${label} is a plugin, not a function that makes one, so it takes no options (got ${list(Object.keys(spec.options))}); export a function to take them`);
    }
    return value;
  }
  throw fail(`the ${label} is ${describeValue(value)}, not a plugin; --plugin takes ${EXPORT_RULE}`);
}

/** A plugin: what `definePlugin` returns, or any object with a `setup` function (the runtime checks its manifest). */
function isPlugin(value: unknown): value is WeftPlugin {
  if (typeof value !== 'object' || value === null) return false;
  try {
    return (value as WeftPlugin)[WEFT_PLUGIN] === true || typeof (value as { setup?: unknown }).setup === 'function';
  } catch {
    return false;
  }
}

/**
 * Why `import()` of `file` failed, on one line. A syntax error names the file and line (Node
 * does not put them on a caught error, so `node --check` finds them); a module that is missing
 * (the plugin's file, or a package it imports) says so; anything the module's top-level code
 * threw is quoted.
 */
function importFailure(error: unknown, file: string): string {
  const name = read(() => (error as Error).name);
  const code = read(() => (error as { code?: unknown }).code);
  const message = describeCause(error);
  const stack = String(read(() => (error as Error).stack) ?? '');
  // A parse error's stack has only Node's own frames; a SyntaxError the module's code threw (JSON.parse) has the module's.
  if (name === 'SyntaxError' && !/^\s+at .*(?:file:\/\/|[(\s](?:\/|[A-Za-z]:\\))/m.test(stack)) return `syntax error in ${syntaxErrorAt(file) ?? `${file} or a module it imports`}: ${message}`;
  if (typeof code === 'string' && code.startsWith('ERR_')) return `cannot import ${file}: ${message}${code === 'ERR_MODULE_NOT_FOUND' ? missingWeftPackage(message, file) : ''}`;
  return `importing ${file} failed: ${typeof name === 'string' && name !== '' && name !== 'Error' ? `${name}: ` : ''}${message}`;
}

/**
 * The way out when a plugin imports a `@weft/*` package that is not installed where the plugin's
 * file is: its imports resolve from its own folder (up through the node_modules above it), never
 * from `weft`'s, so a file outside any project cannot see the runtime `weft` bundles. Empty for
 * any other missing module.
 */
function missingWeftPackage(message: string, file: string): string {
  const found = /Cannot find package '(@weft\/[^'/]+)[^']*' imported from (.+)$/.exec(message);
  if (found === null) return '';
  const from = /^file:/.test(found[2]!) ? read(() => fileURLToPath(found[2]!)) : found[2];
  const folder = dirname(typeof from === 'string' && from !== '' ? from : file);
  return (
    `; a plugin's own imports resolve from its file's folder (${folder}), not from weft's, so install ` +
    `${found[1]} there (npm i ${found[1]} in that folder or its project) or move the plugin into a project that has it`
  );
}

/** `path:line` of the syntax error in `file` as `node --check` reports it; undefined when it finds none there. */
function syntaxErrorAt(file: string): string | undefined {
  const run = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'ignore', 'pipe'] });
  if (run.status === 0 || typeof run.stderr !== 'string') return undefined;
  const where = /^(.+):(\d+)\r?$/m.exec(run.stderr.split('\n')[0] ?? '');
  if (where === null) return undefined;
  return `${where[1]!.startsWith('file:') ? fileURLToPath(where[1]!) : where[1]}:${where[2]}`;
}

function read(get: () => unknown): unknown {
  try {
    return get();
  } catch {
    return undefined;
  }
}

/** What a value is, in a few words, for "the default export is …". Never throws. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return `a string (${JSON.stringify(value.length > 40 ? `${value.slice(0, 39)}…` : value)})`;
    case 'number':
    case 'boolean':
    case 'bigint':
      return `a ${typeof value} (${String(value)})`;
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
  }
  try {
    if (Array.isArray(value)) return `an array of ${value.length} item${value.length === 1 ? '' : 's'}`;
    if (typeof (value as { then?: unknown }).then === 'function') return 'a promise';
    const keys = Object.keys(value as object);
    return keys.length === 0 ? 'an object with no properties' : `an object with ${list(keys)} (no setup function)`;
  } catch {
    return 'an object that cannot be read';
  }
}

/** Up to five names, comma-separated, then how many more. */
function list(names: readonly string[]): string {
  const shown = names.slice(0, 5).join(', ');
  return names.length > 5 ? `${shown} and ${names.length - 5} more` : shown;
}

/** Thrown by {@link untilSettled} when the deadline passes first. */
class LoadTimeout extends Error {}

/**
 * `promise`, or an {@link InterruptedError} once `signal` aborts, or a {@link LoadTimeout} after
 * `timeoutMs`. The deadline's timer keeps the process alive: an import whose top-level `await`
 * can never settle would otherwise let Node exit silently (code 13) while weft waits for it.
 */
function untilSettled<T>(promise: Promise<T>, signal: AbortSignal | undefined, timeoutMs: number): Promise<T> {
  if (signal?.aborted) {
    promise.catch(() => {});
    return Promise.reject(new InterruptedError());
  }
  return new Promise<T>((resolve, reject) => {
    const abort = (): void => {
      clearTimeout(timer);
      reject(new InterruptedError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', abort);
      promise.catch(() => {});
      reject(new LoadTimeout());
    }, timeoutMs);
    signal?.addEventListener('abort', abort, { once: true });
    promise.then(
      (value) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', abort);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', abort);
        reject(error);
      },
    );
  });
}
