/**
 * Every symbol a workspace package exports (each `exports` entry with a `source` condition) has a
 * TSDoc comment, so editors show what it is and the published `.d.ts` files carry it. A new
 * export without one fails here, naming it and the file that declares it.
 */
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { repoRoot, workspacePackageDirs } from '../scripts/workspace-packages.mjs';

interface PackageEntry {
  readonly packageName: string;
  readonly subpath: string;
  readonly file: string;
}

/** The TypeScript source of each `exports` entry of each workspace package. */
function packageEntries(): PackageEntry[] {
  return workspacePackageDirs().flatMap((dir) => {
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; exports?: Record<string, unknown> };
    return Object.entries(manifest.exports ?? {}).flatMap(([subpath, target]) => {
      const source = typeof target === 'object' && target !== null ? (target as { source?: unknown }).source : undefined;
      return typeof source === 'string' ? [{ packageName: manifest.name, subpath, file: join(dir, source) }] : [];
    });
  });
}

/** `name (declaring file)` of each export of `entry` without a documentation comment. */
function undocumentedExports(program: ts.Program, checker: ts.TypeChecker, entry: string): string[] {
  const source = program.getSourceFile(entry);
  const module = source && checker.getSymbolAtLocation(source);
  if (!module) throw new Error(`TypeScript could not read ${entry}`);
  return checker.getExportsOfModule(module).flatMap((exported) => {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    if (ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim() !== '') return [];
    const declaredIn = symbol.declarations?.[0]?.getSourceFile().fileName;
    return [`${exported.getName()} (${declaredIn ? relative(repoRoot, declaredIn) : 'no declaration'})`];
  });
}

describe('public API documentation', () => {
  const entries = packageEntries();
  const program = ts.createProgram(
    entries.map((e) => e.file),
    {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      strict: true,
      // Workspace packages resolve to their sources, as in the tests: no build needed.
      customConditions: ['source'],
      noEmit: true,
    },
  );
  const checker = program.getTypeChecker();

  it('finds the entries of every package', () => {
    const names = new Set(entries.map((e) => e.packageName));
    for (const name of ['@weft/core', '@weft/backend-node', '@weft/backend-web', '@weft/backend-npu', '@weft/plugin-kv', '@weft/plugin-attention', '@weft/cli']) {
      expect(names, name).toContain(name);
    }
  });

  it.each(packageEntries().map((e) => [`${e.packageName}${e.subpath === '.' ? '' : e.subpath.slice(1)}`, e.file] as const))(
    '%s: every export has a TSDoc comment',
    (_name, file) => {
      expect(undocumentedExports(program, checker, file)).toEqual([]);
    },
  );
});
