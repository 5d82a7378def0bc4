import { readFileSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';
import { expandHome } from '../args/home-path.js';
import type { PluginSpec } from './plugin-spec.js';

/**
 * The `exports` conditions matched, as Node's `import` matches them: `node`, `import`, `default`,
 * and `module-sync` where Node has `require(esm)`. The file found is loaded with `import()`.
 */
const CONDITIONS: ReadonlySet<string> = new Set(['node', 'import', 'default', ...((process.features as { require_module?: boolean }).require_module ? ['module-sync'] : [])]);

/**
 * A URL other than `file:`: `scheme://…` (two or more letters, so a Windows drive such as `C:` is
 * not one), or a scheme `import()` knows without slashes. `name:key` is left to the package lookup,
 * whose error says how options are written.
 */
const OTHER_URL = /^(?:[a-z][a-z\d+.-]+:\/\/|(?:node|data|blob|https?):)/i;

/** `name` or `@scope/name`, then an optional `/subpath`. */
const PACKAGE = /^((?:@[^/\\%]+\/)?[^/\\%.@][^/\\%]*)(\/.*)?$/;

/**
 * The file `--plugin SPEC` imports. A path (`./x.mjs`, `../x.mjs`, an absolute path, `~/x.mjs`,
 * a `file://` URL) is resolved against `base`, the directory the command was typed in; a folder is
 * taken as a package (its package.json's `exports` or `main`). Anything else is a package name,
 * optionally with a subpath (`weft-plugin-x`, `@acme/weft-plugin/extra`), looked up as `import`
 * would from a module in `base`: the package itself when `base` is inside it, else
 * `node_modules/<name>` in `base` and each folder above it, then its `exports` with the
 * `import` conditions (or its `main`). Never from where the CLI is installed.
 *
 * Failures are usage errors that name the flag and where the module was looked for.
 */
export function resolvePluginModule(spec: PluginSpec, base: string): string {
  const value = spec.module.trim();
  const fail = (reason: string): UsageError => new UsageError(`--plugin ${spec.text}: ${reason}`);
  if (/^file:/i.test(value)) {
    let path: string;
    try {
      path = fileURLToPath(value);
    } catch (error) {
      throw fail(`not a file:// URL of a local file (${(error as Error).message})`);
    }
    return fileEntry(path, value, fail);
  }
  const expanded = expandHome(value, '--plugin');
  if (expanded !== value || isPathLike(value)) return fileEntry(resolve(base, expanded), value, fail);
  if (OTHER_URL.test(value)) throw fail('only a file path, a file:// URL or a package name can be a plugin');
  const match = PACKAGE.exec(value);
  if (match === null) throw fail(`"${value}" is neither a file path (start it with ./ or /) nor a package name`);
  return packageModule(match[1]!, `.${match[2] ?? ''}`, base, fail);
}

/** `./x`, `../x`, `.`, `..` or an absolute path (on Windows also `.\x` and `C:\x`), as Node tells paths from package names. */
function isPathLike(value: string): boolean {
  return isAbsolute(value) || /^\.\.?(?:[/]|$)/.test(value) || (process.platform === 'win32' && /^\.\.?\\/.test(value));
}

function stat(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** A file to import, or a folder taken as a package; a missing one names the file it looked for. */
function fileEntry(path: string, given: string, fail: (reason: string) => UsageError): string {
  const stats = stat(path);
  if (stats?.isDirectory()) return packageEntry(path, '.', basename(path), fail);
  if (stats === undefined) {
    const near = ['.mjs', '.js', '.cjs'].find((ext) => stat(`${path}${ext}`)?.isFile());
    // `./x.mjs:keep` (no `=`): the options part was taken for the file's name.
    const colon = /^file:/i.test(given) ? -1 : given.lastIndexOf(':');
    const options = colon > 0 && stat(path.slice(0, path.length - (given.length - colon)))?.isFile() ? given.slice(0, colon) : undefined;
    const hint = near
      ? ` (did you mean ${given}${near}? the extension is part of the name)`
      : options
        ? ` (options are written ${options}:key=value,…)`
        : '';
    throw fail(`no such file ${path}${hint}`);
  }
  if (!stats.isFile()) throw fail(`${path} is not a regular file`);
  return path;
}

/** Resolves package `name` and its `subpath` from `base`, as `import` from a module in `base` would. */
function packageModule(name: string, subpath: string, base: string, fail: (reason: string) => UsageError): string {
  const own = ownPackage(base);
  if (own !== undefined && own.json['name'] === name && own.json['exports'] !== undefined) return packageEntry(own.dir, subpath, name, fail);
  for (let dir = resolve(base); ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (stat(candidate)?.isDirectory()) return packageEntry(candidate, subpath, name, fail);
    if (dirname(dir) === dir) break;
  }
  const local = stat(resolve(base, name))?.isFile()
    ? `; for the file ${resolve(base, name)} write ./${name}`
    : name.includes(':')
      ? `; options are written ${name.slice(0, name.lastIndexOf(':'))}:key=value,…`
      : '';
  throw fail(`cannot find the package "${name}" from ${resolve(base)} (no node_modules/${name} there or in a folder above it); install it there, or give the plugin's file path${local}`);
}

/** The package.json that `base` belongs to (not past a node_modules folder), read. */
function ownPackage(base: string): { dir: string; json: Record<string, unknown> } | undefined {
  for (let dir = resolve(base); basename(dir) !== 'node_modules'; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (stat(file)?.isFile()) {
      const json = readPackageJson(file);
      return json === undefined ? undefined : { dir, json };
    }
    if (dirname(dir) === dir) break;
  }
  return undefined;
}

function readPackageJson(file: string, fail?: (reason: string) => UsageError): Record<string, unknown> | undefined {
  try {
    const json: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (typeof json === 'object' && json !== null && !Array.isArray(json)) return json as Record<string, unknown>;
    if (fail) throw fail(`${file} does not hold a JSON object`);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    if (fail) throw fail(`cannot read ${file}: ${(error as Error).message}`);
  }
  return undefined;
}

/** The file of `subpath` (`.` or `./…`) in the package folder `dir`: by its `exports`, else its `main` or the path itself. */
function packageEntry(dir: string, subpath: string, name: string, fail: (reason: string) => UsageError): string {
  const file = join(dir, 'package.json');
  const json = stat(file)?.isFile() ? readPackageJson(file, fail) : undefined;
  const exported = json?.['exports'];
  if (exported !== undefined && exported !== null) {
    const target = exportsTarget(exported, subpath, (reason) => fail(`${file} has an invalid "exports": ${reason}`));
    if (target === undefined || target === null) {
      throw fail(
        subpath === '.'
          ? `${name} exports nothing for import() (${file}: "exports" has no "." entry with an import, node or default condition)`
          : `${name} does not export "${subpath}" (${file}: "exports")`,
      );
    }
    const path = join(dir, target);
    if (!stat(path)?.isFile()) throw fail(`${name} exports "${subpath}" as ${target}, but ${path} is not there (is the package built?)`);
    return path;
  }
  if (subpath !== '.') {
    const path = join(dir, subpath);
    if (!stat(path)?.isFile()) throw fail(`no such file ${path} in the package ${name}`);
    return path;
  }
  const main = typeof json?.['main'] === 'string' && json['main'] !== '' ? json['main'] : undefined;
  const candidates = [...(main === undefined ? [] : [main, `${main}.js`, join(main, 'index.js')]), 'index.js'];
  const found = candidates.map((c) => join(dir, c)).find((p) => stat(p)?.isFile());
  if (found === undefined) {
    throw fail(`the package ${name} (${dir}) has no entry point: ${main === undefined ? 'no "exports" or "main" in its package.json, and no index.js' : `its "main" ${main} is not there`}`);
  }
  return found;
}

/**
 * The target of `subpath` in a package's `exports` (Node's PACKAGE_EXPORTS_RESOLVE, with
 * {@link CONDITIONS}): a path relative to the package folder, `null` for a subpath the package
 * excludes, `undefined` for one it does not list or no condition matches.
 */
function exportsTarget(exported: unknown, subpath: string, invalid: (reason: string) => UsageError): string | null | undefined {
  const isObject = typeof exported === 'object' && exported !== null && !Array.isArray(exported);
  const keys = isObject ? Object.keys(exported) : [];
  const dotted = keys.filter((k) => k.startsWith('.'));
  if (dotted.length > 0 && dotted.length !== keys.length) throw invalid('it mixes subpaths ("./…") with conditions');
  const map: Record<string, unknown> = dotted.length > 0 ? (exported as Record<string, unknown>) : { '.': exported };
  if (Object.hasOwn(map, subpath) && !subpath.includes('*')) return targetOf(map[subpath], undefined, invalid);
  // Subpath patterns (`"./plugins/*": "./dist/*.js"`): the longest prefix wins, then the longest key.
  let best: { key: string; match: string } | undefined;
  for (const key of Object.keys(map)) {
    const star = key.indexOf('*');
    if (star < 0 || key.indexOf('*', star + 1) >= 0) continue;
    const prefix = key.slice(0, star);
    const suffix = key.slice(star + 1);
    if (!subpath.startsWith(prefix) || subpath === prefix || subpath.length < key.length || !subpath.endsWith(suffix)) continue;
    const better = best === undefined || star > best.key.indexOf('*') || (star === best.key.indexOf('*') && key.length > best.key.length);
    if (better) best = { key, match: subpath.slice(prefix.length, subpath.length - suffix.length) };
  }
  return best === undefined ? undefined : targetOf(map[best.key], best.match, invalid);
}

/** Node's PACKAGE_TARGET_RESOLVE: a string target, the first usable one of an array, or the first matching condition. */
function targetOf(target: unknown, match: string | undefined, invalid: (reason: string) => UsageError): string | null | undefined {
  if (typeof target === 'string') {
    const segments = target.slice(2).split(/[/\\]/);
    if (!target.startsWith('./') || segments.some((s) => ['', '.', '..'].includes(s) || s.toLowerCase() === 'node_modules')) {
      throw invalid(`the target ${JSON.stringify(target)} must be a path inside the package, starting with ./`);
    }
    if (match === undefined) return target;
    if (match.split(/[/\\]/).some((s) => ['', '.', '..'].includes(s) || s.toLowerCase() === 'node_modules')) return null;
    return target.replaceAll('*', match);
  }
  if (Array.isArray(target)) {
    // As Node does: an invalid item or an excluded one (null) falls back to the next item.
    let last: UsageError | null | undefined;
    for (const item of target as unknown[]) {
      let resolved: string | null | undefined;
      try {
        resolved = targetOf(item, match, invalid);
      } catch (error) {
        if (!(error instanceof UsageError)) throw error;
        last = error;
        continue;
      }
      if (resolved === null) last = null;
      else if (resolved !== undefined) return resolved;
    }
    if (last instanceof UsageError) throw last;
    return target.length === 0 ? null : last;
  }
  if (typeof target === 'object' && target !== null) {
    for (const [condition, value] of Object.entries(target)) {
      if (/^\d+$/.test(condition)) throw invalid('condition names cannot be numbers');
      if (!CONDITIONS.has(condition)) continue;
      const resolved = targetOf(value, match, invalid);
      if (resolved !== undefined) return resolved;
    }
    return undefined;
  }
  if (target === null) return null;
  throw invalid(`a target must be a string, an array, an object of conditions or null (got ${typeof target})`);
}
