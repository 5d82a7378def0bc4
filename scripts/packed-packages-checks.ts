/**
 * Pure checks on one packed package, as extracted from its tarball: its manifest, its file list and
 * the imports its shipped JavaScript and declarations make. Each returns the problems it found
 * (empty when the package is fine), so a failing test names every defect at once.
 */
import { builtinModules, createRequire } from 'node:module';
import { posix } from 'node:path';
import ts from 'typescript';

export interface PackedManifest {
  readonly name: string;
  readonly version: string;
  readonly main?: string;
  readonly types?: string;
  readonly typings?: string;
  readonly bin?: string | Record<string, string>;
  readonly exports?: unknown;
  readonly dependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly peerDependenciesMeta?: Record<string, { readonly optional?: boolean }>;
}

/** The dependency fields a consumer's installer reads; devDependencies never reach a consumer. */
export const INSTALLED_DEPENDENCY_FIELDS = ['dependencies', 'peerDependencies', 'optionalDependencies'] as const;

// semver is core's own dependency; the repository root does not install it.
const semver = createRequire(new URL('../packages/core/package.json', import.meta.url))('semver') as {
  satisfies(version: string, range: string): boolean;
};

/** Every string in the manifest that still holds a `workspace:` protocol, with where it is. */
export function workspaceProtocols(manifest: unknown): string[] {
  const found: string[] = [];
  const visit = (value: unknown, path: string): void => {
    if (typeof value === 'string') {
      if (value.startsWith('workspace:')) found.push(`${path}: ${value}`);
    } else if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) visit(child, `${path}[${JSON.stringify(key)}]`);
    }
  };
  visit(manifest, 'package.json');
  return found;
}

/** Where `exports` has a condition named `condition`, at any depth. */
export function conditionPaths(exports: unknown, condition: string): string[] {
  const found: string[] = [];
  const visit = (value: unknown, path: string): void => {
    if (value === null || typeof value !== 'object') return;
    for (const [key, child] of Object.entries(value)) {
      const childPath = `${path}[${JSON.stringify(key)}]`;
      if (key === condition) found.push(childPath);
      visit(child, childPath);
    }
  };
  visit(exports, 'exports');
  return found;
}

/** `@weft/*` ranges that do not accept the workspace's current version of that package. */
export function staleWorkspaceRanges(manifest: PackedManifest, workspaceVersions: ReadonlyMap<string, string>): string[] {
  const found: string[] = [];
  for (const field of INSTALLED_DEPENDENCY_FIELDS) {
    for (const [name, range] of Object.entries(manifest[field] ?? {})) {
      if (!name.startsWith('@weft/')) continue;
      const version = workspaceVersions.get(name);
      if (version === undefined) found.push(`${field}.${name}: no workspace package has that name`);
      else if (!semver.satisfies(version, range)) found.push(`${field}.${name}: "${range}" excludes the workspace's ${version}`);
    }
  }
  return found;
}

/** The files the manifest's `main`, `types`, `typings`, `bin` and `exports` point at, without "./". */
export function entryPointFiles(manifest: PackedManifest): string[] {
  const targets: string[] = [];
  const collect = (value: unknown): void => {
    if (typeof value === 'string') targets.push(value);
    else if (value !== null && typeof value === 'object') for (const child of Object.values(value)) collect(child);
  };
  collect([manifest.main, manifest.types, manifest.typings, manifest.bin, manifest.exports].filter((v) => v !== undefined));
  // Subpath patterns ("./*") name no single file; this workspace has none, so they are reported rather than skipped.
  return [...new Set(targets.map((target) => posix.normalize(target)))];
}

/**
 * Files a consumer should never download: tests and their fixtures, compiler state, editor and OS
 * debris, logs, nested tarballs and installed dependencies.
 */
const LITTER = [
  /(^|\/)[^/]*\.(test|spec)\.[cm]?[jt]sx?$/,
  /(^|\/)(test|tests|__tests__|__fixtures__|fixtures|coverage|node_modules)\//,
  /\.tsbuildinfo$/,
  /(^|\/)tsconfig[^/]*\.json$/,
  /(^|\/)(\.DS_Store|Thumbs\.db)$/,
  /\.(log|tgz|orig|rej|swp)$/,
  /~$/,
];

export function litterFiles(files: readonly string[]): string[] {
  return files.filter((file) => LITTER.some((pattern) => pattern.test(file)));
}

/**
 * Source maps whose sources are not in the tarball. `tsc -b` never deletes the output of a source
 * file that was removed, so this is how stale compiled modules show up (they would ship as dead
 * code whose map points at nothing); it also catches a `files` list that drops the sources the
 * maps were published to point at.
 */
export function danglingSourceMaps(files: readonly string[], readText: (file: string) => string): string[] {
  const shipped = new Set(files);
  const found: string[] = [];
  for (const map of files.filter((file) => file.endsWith('.map'))) {
    const { sources = [], sourceRoot = '' } = JSON.parse(readText(map)) as { sources?: string[]; sourceRoot?: string };
    for (const source of sources) {
      const target = posix.normalize(posix.join(posix.dirname(map), sourceRoot, source));
      if (!shipped.has(target)) found.push(`${map} -> ${target}`);
    }
  }
  return found;
}

/** The package a bare specifier resolves into: `a/b` -> `a`, `@s/a/b` -> `@s/a`. */
export function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return (specifier.startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1)).join('/');
}

/** Paths and URLs (`data:`, `file:`), which name no package; `node:` is handled as a builtin. */
function isPathOrUrl(specifier: string): boolean {
  return specifier.startsWith('.') || specifier.startsWith('/') || (/^[a-z][a-z0-9+.-]*:/i.test(specifier) && !specifier.startsWith('node:'));
}

function isBuiltin(specifier: string): boolean {
  return specifier.startsWith('node:') || builtinModules.includes(packageOf(specifier));
}

/**
 * Module specifiers one shipped file refers to: static imports and re-exports, `import('x')` calls
 * and `import("x")` types, and `/// <reference types>` (as `@types/x`). TypeScript's scanner
 * reads them, so strings and comments that merely mention an import are not taken for one.
 */
export function moduleSpecifiers(text: string): string[] {
  const info = ts.preProcessFile(text, true, true);
  return [
    ...info.importedFiles.map((ref) => ref.fileName),
    ...info.typeReferenceDirectives.map((ref) => (ref.fileName.startsWith('@') ? ref.fileName : `@types/${ref.fileName}`)),
  ];
}

/**
 * Bare specifiers in the package's `dist/**` JavaScript and declarations that name neither a
 * Node.js builtin, the package itself, nor a package it declares: a consumer installing with a
 * strict installer (pnpm) gets "Cannot find module" for them. Type-only imports of an undeclared
 * package would resolve for nobody either, so declarations are held to the same rule.
 */
export function undeclaredImports(manifest: PackedManifest, files: readonly string[], readText: (file: string) => string): string[] {
  const declared = new Set([manifest.name, ...INSTALLED_DEPENDENCY_FIELDS.flatMap((field) => Object.keys(manifest[field] ?? {}))]);
  const found: string[] = [];
  for (const file of files.filter((f) => f.startsWith('dist/') && /\.(m?js|d\.m?ts)$/.test(f))) {
    for (const specifier of moduleSpecifiers(readText(file))) {
      if (isPathOrUrl(specifier) || isBuiltin(specifier)) continue;
      const owner = packageOf(specifier);
      // A declaration may import "x" for types that live in @types/x.
      const typesOwner = `@types/${owner.startsWith('@') ? owner.slice(1).replace('/', '__') : owner}`;
      if (declared.has(owner) || (file.endsWith('.ts') && declared.has(typesOwner))) continue;
      found.push(`${file}: '${specifier}'`);
    }
  }
  return found;
}

/**
 * Imports in the package's shipped declarations of a peer dependency marked optional. A consumer
 * who leaves that peer out (which is what optional allows) cannot type-check these declarations
 * unless `skipLibCheck` is on, even when it never calls the code that loads the peer at run time.
 */
export function optionalPeerTypeImports(manifest: PackedManifest, files: readonly string[], readText: (file: string) => string): string[] {
  const optional = new Set(Object.entries(manifest.peerDependenciesMeta ?? {}).filter(([, meta]) => meta.optional === true).map(([name]) => name));
  if (optional.size === 0) return [];
  const found: string[] = [];
  for (const file of files.filter((f) => f.startsWith('dist/') && /\.d\.m?ts$/.test(f))) {
    for (const specifier of moduleSpecifiers(readText(file))) if (optional.has(packageOf(specifier))) found.push(`${file}: '${specifier}'`);
  }
  return found;
}
