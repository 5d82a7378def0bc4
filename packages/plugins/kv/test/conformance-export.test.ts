/**
 * `@weft/plugin-kv/conformance` as a third party uses it: through the package's exports, from a
 * package outside the workspace, with a store written only against core's contract.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { KvCacheStore } from '@weft/core';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const pkg = fileURLToPath(new URL('..', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/copy-kv-store.mjs', import.meta.url));
const built = existsSync(join(pkg, 'dist/conformance.js'));
if (!built) console.warn(`[plugin-kv conformance export] ${join(pkg, 'dist/conformance.js')} is not built (run pnpm run build): the tests of the built kit are skipped.`);

type Target = Readonly<Record<string, string>>;
const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as {
  exports: Record<string, Target | string>;
  publishConfig: { exports: Record<string, Target | string> };
  files: string[];
};

const run = promisify(execFile);
/** Runs `node args…` in `cwd`; resolves to its stdout. */
async function node(cwd: string, args: readonly string[]): Promise<string> {
  const { stdout } = await run(process.execPath, args, { cwd, timeout: 30_000 });
  return stdout;
}

/** Specifiers of the static imports and re-exports of a TypeScript module. */
function importsOf(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022);
  return source.statements.flatMap((s) => ((ts.isImportDeclaration(s) || ts.isExportDeclaration(s)) && s.moduleSpecifier && ts.isStringLiteral(s.moduleSpecifier) ? [s.moduleSpecifier.text] : []));
}

describe('the conformance kit is a published subpath', () => {
  it('@weft/plugin-kv/conformance maps to src/conformance.ts and its tsc outputs, published without "source"', () => {
    expect(manifest.exports['./conformance']).toEqual({ source: './src/conformance.ts', types: './dist/conformance.d.ts', import: './dist/conformance.js' });
    expect(manifest.publishConfig.exports['./conformance']).toEqual({ types: './dist/conformance.d.ts', import: './dist/conformance.js' });
    expect(existsSync(join(pkg, 'src/conformance.ts'))).toBe(true);
    expect(manifest.files).toContain('dist');
  });

  it('stays out of the main entry point, whose modules import no Node.js built-in', () => {
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const spec of importsOf(file)) {
        expect(spec, `${relative(pkg, file)} imports ${spec}`).not.toMatch(/^node:|^(assert|fs|path|os|child_process|url|util)$/);
        if (spec.startsWith('.')) visit(join(dirname(file), spec.replace(/\.js$/, '.ts')));
      }
    };
    visit(join(pkg, 'src/index.ts'));
    expect(seen.size).toBeGreaterThan(10);
    expect([...seen].map((f) => relative(pkg, f))).not.toContain('src/conformance.ts');
  });

  it('imports by its package name (vitest: the "source" condition), and a store written against the docs passes it', async () => {
    const kit = await import('@weft/plugin-kv/conformance');
    const main: Record<string, unknown> = await import('@weft/plugin-kv');
    expect(typeof kit.checkKvStoreContract).toBe('function');
    expect(main['checkKvStoreContract']).toBeUndefined();
    const { CopyKvStore } = (await import(pathToFileURL(fixture).href)) as { CopyKvStore: new () => KvCacheStore };
    expect(() => kit.checkKvStoreContract(() => new CopyKvStore(), { tolerance: 0, dropsCollectedTensors: true })).not.toThrow();
    // The kit is not vacuous: the same store, keeping the presents it was given, fails it.
    class Leaky extends CopyKvStore {
      override append(presents: Parameters<KvCacheStore['append']>[0]): void {
        super.append(Object.fromEntries(Object.entries(presents).map(([name, t]) => [name, { ...t, dispose: () => {} }])));
      }
    }
    expect(() => kit.checkKvStoreContract(() => new Leaky(), { tolerance: 0 })).toThrow(/append\(\) kept present\.0\.key/);
  });

  it('passes a store without retain() or slotPositions() (both optional in core) when told it does not evict', async () => {
    const kit = await import('@weft/plugin-kv/conformance');
    const { CopyKvStore } = (await import(pathToFileURL(fixture).href)) as { CopyKvStore: new () => KvCacheStore };
    const neverEvicts = (): KvCacheStore => Object.assign(new CopyKvStore(), { retain: undefined, slotPositions: undefined });
    expect(() => kit.checkKvStoreContract(neverEvicts, { tolerance: 0, evicts: false })).not.toThrow();
    expect(() => kit.checkKvStoreContract(neverEvicts, { tolerance: 0 })).toThrow(/has no retain\(\).*passes \{ evicts: false \}/);
  });
});

describe('a package outside the workspace', () => {
  let consumer: string;
  beforeAll(async () => {
    consumer = await mkdtemp(join(tmpdir(), 'weft-kv-consumer-'));
    await writeFile(join(consumer, 'package.json'), JSON.stringify({ name: 'my-kv-store', type: 'module', private: true }));
    await mkdir(join(consumer, 'node_modules/@weft'), { recursive: true });
    await symlink(pkg, join(consumer, 'node_modules/@weft/plugin-kv'), 'dir');
    // A store's package has @weft/core as a peer dependency, installed next to the kit.
    await symlink(join(pkg, '../../core'), join(consumer, 'node_modules/@weft/core'), 'dir');
  });
  afterAll(async () => {
    if (consumer) await rm(consumer, { recursive: true, force: true });
  });

  it("resolves @weft/plugin-kv/conformance with Node.js's own resolver", async () => {
    // Under the workspace-only "source" condition (works unbuilt): the package's exports map has the subpath.
    const resolve = "console.log(fileURLToPath(import.meta.resolve('@weft/plugin-kv/conformance')))";
    const source = await node(consumer, ['--conditions=source', '--input-type=module', '-e', `import { fileURLToPath } from 'node:url'; ${resolve}`]);
    expect(source.trim()).toBe(join(pkg, 'src/conformance.ts'));
    if (!built) return;
    const published = await node(consumer, ['--input-type=module', '-e', `import { fileURLToPath } from 'node:url'; ${resolve}`]);
    expect(published.trim()).toBe(join(pkg, 'dist/conformance.js'));
  });

  it.skipIf(!built)('imports the built kit in plain Node.js and runs a store written against the docs through it', async () => {
    const script = join(consumer, 'check.mjs');
    await writeFile(
      script,
      [
        "import { checkKvStoreContract } from '@weft/plugin-kv/conformance';",
        "import * as main from '@weft/plugin-kv';",
        `import { CopyKvStore } from ${JSON.stringify(pathToFileURL(fixture).href)};`,
        "checkKvStoreContract(() => new CopyKvStore(), { tolerance: 0, dropsCollectedTensors: true });",
        "let rejected = '';",
        "try { checkKvStoreContract(() => Object.assign(new CopyKvStore(), { bytes: () => 0 }), { tolerance: 0 }); } catch (e) { rejected = e.name; }",
        "console.log(JSON.stringify({ passed: true, rejected, inMain: 'checkKvStoreContract' in main }));",
      ].join('\n'),
    );
    expect(JSON.parse(await node(consumer, [script]))).toEqual({ passed: true, rejected: 'AssertionError', inMain: false });
  });

  it.skipIf(!built)('type-checks a TypeScript consumer against the published declarations', async () => {
    const file = join(consumer, 'store.test.ts');
    await writeFile(
      file,
      [
        "import { checkKvStoreContract, fakeLayout, type ConformanceOptions } from '@weft/plugin-kv/conformance';",
        "import type { KvCacheStore } from '@weft/core';",
        'declare const create: () => KvCacheStore;',
        'const options: ConformanceOptions = { tolerance: 0, dropsCollectedTensors: true };',
        'checkKvStoreContract(create, options);',
        'export const layers: number = fakeLayout(2, 2, 16).numLayers;',
      ].join('\n'),
    );
    const program = ts.createProgram([file], {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: [],
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);
    // Resolved through "types" (no "source" condition): the declarations, not the sources.
    const kit = program.getSourceFiles().map((f) => f.fileName).find((f) => f.includes('conformance.'));
    expect(kit).toBe(join(pkg, 'dist/conformance.d.ts'));
  });
});
