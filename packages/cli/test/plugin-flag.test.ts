import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { invocationDir } from '../src/invocation-dir.js';
import { parsePluginSpec } from '../src/plugins/plugin-spec.js';
import { UsageError } from '../src/index.js';
import { USAGE } from '../src/usage.js';
import { cli, storyModel } from './helpers.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const built = existsSync(bin);

const PROMPT = 'Once upon a time, there was a little fox named';
/** A manifest's fields besides `name` and `setup`, as plugin modules below write them. */
const MANIFEST = `version: '1.0.0', apiVersion: '^0.1.0'`;

/**
 * The plugin modules the tests import, written into a temporary folder. None imports `@weft/core`
 * except the packages under node_modules (and needs-core/plugin.mjs, which cannot find it): a
 * plugin may hand the runtime a plain manifest object (the runtime checks it as definePlugin's).
 */
const MODULES: Record<string, string> = {
  // A factory with options: an attention router that keeps the `keep` newest cache slots.
  'window.mjs': `
export default function storyWindow(options = {}) {
  const keep = options.keep ?? 8;
  if (!Number.isInteger(keep) || keep < 1) throw new Error('keep must be a whole number >= 1 (got ' + JSON.stringify(keep) + ')');
  return {
    name: 'weft-plugin-story-window', ${MANIFEST},
    setup(ctx) {
      ctx.register('attention-router', {
        name: 'keep-newest',
        create: () => ({
          specificationVersion: 'v1',
          name: 'keep-newest',
          select: ({ cacheLength }) => (cacheLength > keep ? { kind: 'shared', slots: Array.from({ length: keep }, (_, i) => cacheLength - keep + i) } : undefined),
        }),
      });
    },
  };
}
`,
  // A plugin object as the export named "plugin": a KV store that is the bundled int8 store under
  // another name. Its setup fails unless the bundled stores are registered before it.
  'store.mjs': `
export const plugin = {
  name: 'weft-plugin-int8-again', ${MANIFEST},
  setup(ctx) {
    const names = ctx.registry.list('kv-cache').map((e) => e.name);
    if (!names.includes('int8')) throw new Error('int8 is not registered yet: ' + names.join(', '));
    ctx.register('kv-cache', { name: 'int8-again', create: (options) => ctx.registry.resolve('kv-cache', { name: 'int8' }).create(options) });
  },
};
`,
  // Hooks that log every forward pass and token to the file named by the option "log".
  'hooks.mjs': `
import { appendFileSync } from 'node:fs';
export default ({ log }) => ({
  name: 'weft-plugin-story-log', ${MANIFEST},
  setup(ctx) {
    ctx.addHooks({
      beforeForward: ({ step }) => appendFileSync(log, 'forward ' + step + '\\n'),
      afterToken: ({ text }) => appendFileSync(log, 'token ' + JSON.stringify(text) + '\\n'),
    });
  },
});
`,
  // A backend that is the bundled node backend under another name.
  'backend.mjs': `
export default {
  name: 'weft-plugin-story-backend', ${MANIFEST},
  setup(ctx) {
    ctx.register('backend', {
      name: 'story-node',
      create: () => {
        const node = ctx.registry.resolve('backend', { name: 'node' }).create();
        return { specificationVersion: 'v1', name: 'story-node', probe: () => node.probe(), createSession: (source, options) => node.createSession(source, options) };
      },
    });
  },
};
`,
  // A backend that is registered but never available here, as the npu backend is without an NPU.
  'unavailable-backend.mjs': `
export default {
  name: 'weft-plugin-story-npu', ${MANIFEST},
  setup(ctx) {
    ctx.register('backend', {
      name: 'story-npu',
      create: () => ({ specificationVersion: 'v1', name: 'story-npu', probe: () => ({ available: false, reason: 'no NPU on this test machine' }), createSession: () => { throw new Error('unreachable'); } }),
    });
  },
};
`,
  // The runtime's default router, which reads attention probabilities: it logs whether it got them.
  'attention-default.mjs': `
import { appendFileSync } from 'node:fs';
export default ({ log }) => ({
  name: 'weft-plugin-attention-default', ${MANIFEST},
  setup(ctx) {
    ctx.register('attention-router', {
      name: 'attention-probe',
      capabilities: ['default', 'attentions'],
      create: () => ({
        specificationVersion: 'v1',
        name: 'attention-probe',
        observe: ({ outputs }) => appendFileSync(log, Object.keys(outputs).some((k) => k.startsWith('attentions')) ? 'attentions\\n' : 'none\\n'),
        select: () => undefined,
      }),
    });
  },
});
`,
  // Needs the store of store.mjs: a --plugin after it sees it.
  'store-alias.mjs': `
export default {
  name: 'weft-plugin-int8-alias', ${MANIFEST},
  setup(ctx) {
    const store = ctx.registry.resolve('kv-cache', { name: 'int8-again' });
    ctx.register('kv-cache', { name: 'int8-alias', create: (options) => store.create(options) });
  },
};
`,
  'cjs/plugin.cjs': `exports.plugin = { name: 'weft-plugin-cjs', version: '1.0.0', apiVersion: '^0.1.0', setup() {} };\n`,
  // Modules that are not plugins, or fail.
  'throws.mjs': `throw new Error('no config file found');\n`,
  'named-only.mjs': `export function storyTools() {}\nexport const version = 1;\n`,
  'nothing.mjs': `\n`,
  'string.mjs': `export default 'weft-plugin-story-window';\n`,
  'object.mjs': `export default { name: 'weft-plugin-half', version: '1.0.0' };\n`,
  'returns-nothing.mjs': `export default function () {}\n`,
  'setup-fails.mjs': `export default { name: 'weft-plugin-broken', ${MANIFEST}, setup() { throw new Error('cannot reach the tokens server'); } };\n`,
  'open-range.mjs': `export default { name: 'weft-plugin-open-range', version: '1.0.0', apiVersion: '*', setup() {} };\n`,
  'same-name.mjs': `export default () => ({ name: 'weft-plugin-story-window', ${MANIFEST}, setup() {} });\n`,
  'bundled-name.mjs': `export default { name: '@weft/plugin-kv', ${MANIFEST}, setup() {} };\n`,
  'syntax.mjs': `export default {\n  name: 'weft-plugin-typo',\n  setup() {}\n  oops\n};\n`,
  'json-throws.mjs': `export default JSON.parse('{x');\n`,
  'needs-dependency.mjs': `import 'weft-no-such-dependency';\nexport default {};\n`,
  // A plugin written against @weft/core in a folder with no node_modules (tmpdir is in no project).
  'needs-core/plugin.mjs': `import { definePlugin } from '@weft/core';\nexport default definePlugin({ name: 'weft-plugin-needs-core', ${MANIFEST}, setup() {} });\n`,
  'hangs.mjs': `globalThis.__weftPluginLoading?.();\nawait new Promise(() => {});\n`,
};

/**
 * Packages, as `npm install` would lay them out in the project folder `proj`. `weft-plugin-story-tools`
 * is ESM only for import (its `require` target is not a plugin), so it must be resolved with the
 * `import` conditions; it imports `@weft/core` from the project's node_modules.
 */
const PACKAGES: Record<string, string> = {
  'proj/package.json': JSON.stringify({ name: 'my-app', private: true }),
  'proj/node_modules/weft-plugin-story-tools/package.json': JSON.stringify({
    name: 'weft-plugin-story-tools',
    version: '1.0.0',
    type: 'module',
    exports: { '.': { types: './dist/index.d.ts', require: './dist/index.cjs', import: './dist/index.js' } },
  }),
  'proj/node_modules/weft-plugin-story-tools/dist/index.cjs': `module.exports = 'the require condition';\n`,
  'proj/node_modules/weft-plugin-story-tools/dist/index.js': `
export default function storyTools() {
  return {
    name: 'weft-plugin-story-tools', ${MANIFEST},
    setup(ctx) {
      ctx.register('kv-cache', { name: 'story-int4', create: () => ctx.registry.resolve('kv-cache', { name: 'int4' }).create() });
    },
  };
}
`,
  // The same, made with definePlugin from the project's @weft/core (a link to the workspace's),
  // as a published plugin is. Run by the built weft only: the test runner loads @weft/core from
  // its TypeScript sources, which node cannot import from a package.
  'proj/node_modules/weft-plugin-with-core/package.json': JSON.stringify({ name: 'weft-plugin-with-core', type: 'module', exports: { '.': { import: './index.js' } } }),
  'proj/node_modules/weft-plugin-with-core/index.js': `
import { definePlugin } from '@weft/core';
export default () =>
  definePlugin({
    name: 'weft-plugin-with-core', ${MANIFEST},
    setup(ctx) {
      ctx.register('kv-cache', { name: 'story-int4', create: () => ctx.registry.resolve('kv-cache', { name: 'int4' }).create() });
    },
  });
`,
  'proj/node_modules/@acme/weft-plugins/package.json': JSON.stringify({
    name: '@acme/weft-plugins',
    type: 'module',
    exports: { './internal/*': null, './*': { import: './lib/*.mjs' } },
  }),
  'proj/node_modules/@acme/weft-plugins/lib/window.mjs': MODULES['window.mjs']!,
  'proj/node_modules/@acme/weft-plugins/lib/internal/secret.mjs': MODULES['window.mjs']!,
  'proj/node_modules/weft-plugin-unbuilt/package.json': JSON.stringify({ name: 'weft-plugin-unbuilt', exports: './dist/index.js' }),
  'proj/node_modules/weft-plugin-main/package.json': JSON.stringify({ name: 'weft-plugin-main', main: 'lib/plugin' }),
  'proj/node_modules/weft-plugin-main/lib/plugin.js': MODULES['cjs/plugin.cjs']!.replace('weft-plugin-cjs', 'weft-plugin-main'),
  // Fallbacks: an array whose first target matches no condition of import().
  'proj/node_modules/weft-plugin-fallback/package.json': JSON.stringify({ name: 'weft-plugin-fallback', exports: { '.': [{ browser: './browser.mjs' }, './node.mjs'] } }),
  'proj/node_modules/weft-plugin-fallback/node.mjs': MODULES['window.mjs']!,
  'proj/node_modules/weft-plugin-escapes/package.json': JSON.stringify({ name: 'weft-plugin-escapes', exports: '../window.mjs' }),
  'proj/src/deeper/.keep': '',
  // A plugin's own repository: its tests run `weft … --plugin weft-plugin-dev` (or `.`) inside it.
  'plugin-dev/package.json': JSON.stringify({ name: 'weft-plugin-dev', type: 'module', exports: { '.': './src/index.js' } }),
  'plugin-dev/src/index.js': MODULES['store.mjs']!.replace('weft-plugin-int8-again', 'weft-plugin-dev'),
  'plugin-dev/test/.keep': '',
};

let dir: string;
const at = (path: string) => join(dir, path);
const log = (name: string) => at(`logs/${name}.log`);
const logLines = (name: string) => (existsSync(log(name)) ? readFileSync(log(name), 'utf8').split('\n').filter((l) => l !== '') : []);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-cli-plugin-'));
  await mkdir(at('logs'));
  for (const [name, text] of Object.entries({ ...MODULES, ...PACKAGES })) {
    await mkdir(dirname(at(name)), { recursive: true });
    await writeFile(at(name), text);
  }
  await mkdir(at('proj/node_modules/@weft'), { recursive: true });
  await symlink(join(repo, 'packages/core'), at('proj/node_modules/@weft/core'), 'junction');
});
afterAll(() => rm(dir, { recursive: true, force: true }));
afterEach(() => void vi.unstubAllEnvs());

/** `weft generate --json` on models/story, typed in `cwd` (default: the fixtures' folder). */
const generate = (args: readonly string[], cwd = dir) =>
  cli(['generate', '--model', storyModel, '--threads', '1', '--json', '--prompt', PROMPT, ...(args.includes('--max-tokens') ? [] : ['--max-tokens', '12']), ...args], { cwd });
const done = (result: { json(): Record<string, unknown>[] }) => result.json().at(-1) as { type: string; ids: number[]; text: string; kvBytes: number; backend: string };
const ok = <T extends { code: number; stderr: string }>(result: T): T => {
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return result;
};

describe('--plugin SPEC', () => {
  it('installs a factory with its options; its router is selected with --router and keeps its window', async () => {
    const full = done(ok(await generate([])));
    const four = done(ok(await generate(['--plugin', './window.mjs:keep=4', '--router', 'keep-newest'])));
    const eight = done(ok(await generate(['--plugin', './window.mjs:keep=8', '--router', 'keep-newest'])));
    // The bundled window router under the same budget keeps the same slots.
    const builtIn = done(ok(await generate(['--router', 'window:budget=4'])));
    expect(four.kvBytes).toBe(builtIn.kvBytes);
    expect(four.ids).toEqual(builtIn.ids);
    expect(eight.kvBytes).toBe(2 * four.kvBytes);
    expect(full.kvBytes).toBeGreaterThan(eight.kvBytes);
    // Installed but not named, the router changes nothing.
    expect(done(ok(await generate(['--plugin', './window.mjs']))).ids).toEqual(full.ids);
  });

  it('installs a plugin object exported as "plugin" after the bundled plugins; its KV store is selected with --kv', async () => {
    const int8 = done(ok(await generate(['--kv', 'int8'])));
    const again = done(ok(await generate(['--plugin', './store.mjs', '--kv', 'int8-again'])));
    expect(again.kvBytes).toBe(int8.kvBytes);
    expect(again.ids).toEqual(int8.ids);
    expect(again.kvBytes).toBeLessThan(done(ok(await generate([]))).kvBytes);
    // Options reach the store through --kv as for a bundled one.
    expect(done(ok(await generate(['--plugin', './store.mjs', '--kv', 'int8-again:group=64']))).kvBytes).toBe(done(ok(await generate(['--kv', 'int8:group=64']))).kvBytes);
  });

  it('installs plugins in the order given, each after the ones before', async () => {
    const all = done(ok(await generate(['--plugin', './store.mjs', '--plugin', './store-alias.mjs', '--plugin', './window.mjs:keep=4', '--kv', 'int8-alias', '--router', 'keep-newest'])));
    const builtIn = done(ok(await generate(['--kv', 'int8', '--router', 'window:budget=4'])));
    expect(all.kvBytes).toBe(builtIn.kvBytes);
    expect(all.ids).toEqual(builtIn.ids);
    const reversed = await generate(['--plugin', './store-alias.mjs', '--plugin', './store.mjs']);
    expect(reversed.code).toBe(2);
    expect(reversed.stderr).toMatch(/^weft: --plugin \.\/store-alias\.mjs: Plugin "weft-plugin-int8-alias" failed in setup: No kv-cache adapter matches "int8-again": registered: .*int8 /);
  });

  it('runs a plugin\'s hooks on every request of generate, eval, demo and bench (bench: the Weft side only)', async () => {
    const spec = (name: string) => `./hooks.mjs:log=${log(name)}`;
    const generated = done(ok(await generate(['--plugin', spec('generate')])));
    const tokens = logLines('generate').filter((l) => l.startsWith('token '));
    expect(tokens.map((l) => JSON.parse(l.slice(6)) as string).join('')).toBe(generated.text);
    expect(logLines('generate').filter((l) => l.startsWith('forward '))).toHaveLength(12);

    await writeFile(at('text.txt'), 'Once upon a time, there was a little girl named Lily.\n');
    const evaluated = ok(await cli(['eval', '--model', storyModel, '--threads', '1', '--text-file', 'text.txt', '--prefill', '4', '--json', '--plugin', spec('eval')], { cwd: dir }));
    const report = JSON.parse(evaluated.stdout) as { tokens: number };
    // evaluate() runs the beforeForward hooks and no others: one prefill of 4 of the document's
    // tokens + 1 tokens, then one step for each but the last of the rest.
    expect(logLines('eval')).toHaveLength(report.tokens - 3);
    expect(logLines('eval').every((l) => l.startsWith('forward '))).toBe(true);

    const demo = await cli(['demo', '--model', storyModel, '--threads', '1', '--max-tokens', '3', '--seed', '1', '--plugin', spec('demo')], { cwd: dir });
    expect(demo.code).toBe(0);
    expect(logLines('demo').filter((l) => l.startsWith('token '))).toHaveLength(3);

    ok(await cli(['bench', '--model', storyModel, '--tokens', '2', '--prompt-tokens', '2', '--runs', '2', '--warmup', '0', '--json', '--plugin', spec('bench')], { cwd: dir }));
    // Two timed Weft runs of two tokens: one forward pass per token; the bare loop has no hooks.
    expect(logLines('bench').filter((l) => l.startsWith('forward '))).toHaveLength(4);
  });

  it('selects a plugin\'s backend with --backend, and lists it when --backend names none', async () => {
    const result = done(ok(await generate(['--plugin', './backend.mjs', '--backend', 'story-node', '--max-tokens', '3'])));
    expect(result.backend).toBe('story-node');
    const unknown = await generate(['--plugin', './backend.mjs', '--backend', 'story-nod']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^weft: --backend: unknown backend "story-nod"; did you mean story-node\? \(auto, .*\bnode\b.*, story-node\)\n$/);
    // Without --plugin the name is checked before anything loads, as before.
    expect((await generate(['--backend', 'story-node'])).stderr).toBe('weft: --backend: unknown backend "story-node" (auto, node, web, npu)\n');
  });

  it('says why a registered backend --backend names cannot be used here', async () => {
    const result = await generate(['--plugin', './unavailable-backend.mjs', '--backend', 'story-npu']);
    expect(result.code).toBe(2);
    // Before: "No backend adapter matches "story-npu": registered: …; story-npu (unavailable: …); node (different name); …"
    expect(result.stderr).toBe('weft: --backend story-npu is not available here: no NPU on this test machine\n');
  });

  it('lists a plugin\'s entries when --kv or --router names one that is not registered', async () => {
    const router = await generate(['--plugin', './window.mjs', '--router', 'keep-newst']);
    expect(router.code).toBe(2);
    expect(router.stderr).toMatch(/^weft: --router: unknown router "keep-newst"; did you mean keep-newest\? \(full, .*keep-newest\)\n$/);
    expect(router.stderr.trim().split('\n')).toHaveLength(1);
    const kv = await generate(['--plugin', './store.mjs', '--kv', 'int8-agian']);
    expect(kv.code).toBe(2);
    expect(kv.stderr).toMatch(/^weft: --kv: unknown store "int8-agian"; did you mean int8-again\? \(fp32, .*int8-again\)\n$/);
  });

  it('loads the attention graph for a default router of a plugin that reads attentions', async () => {
    ok(await generate(['--plugin', `./attention-default.mjs:log=${log('attentions')}`, '--max-tokens', '2']));
    expect(logLines('attentions')).toEqual(['attentions', 'attentions']);
    // A router named on the command line is used instead, on the plain graph.
    ok(await generate(['--plugin', `./attention-default.mjs:log=${log('named')}`, '--router', 'full', '--max-tokens', '2']));
    expect(logLines('named')).toEqual([]);
  });

  it('reads a file path relative to where the command was typed, from ~/, as an absolute path or a file:// URL', async () => {
    const reference = done(ok(await generate(['--plugin', './window.mjs:keep=4', '--router', 'keep-newest'])));
    const same = async (spec: string, cwd: string) => expect(done(ok(await generate(['--plugin', spec, '--router', 'keep-newest'], cwd))).ids).toEqual(reference.ids);
    await same('../window.mjs:keep=4', at('proj'));
    await same(`${at('window.mjs')}:keep=4`, at('proj'));
    await same(`${pathToFileURL(at('window.mjs')).href}:keep=4`, at('proj'));
    vi.stubEnv('HOME', dir);
    vi.stubEnv('USERPROFILE', dir);
    await same('~/window.mjs:keep=4', at('proj'));
    // A CommonJS module's exports.plugin works too.
    ok(await generate(['--plugin', './cjs/plugin.cjs', '--max-tokens', '2']));
  });

  it('resolves a package name from where the command was typed (import conditions), not from where weft is installed', async () => {
    const int4 = done(ok(await generate(['--kv', 'int4'])));
    const fromPackage = done(ok(await generate(['--plugin', 'weft-plugin-story-tools', '--kv', 'story-int4'], at('proj/src/deeper'))));
    expect(fromPackage.kvBytes).toBe(int4.kvBytes);
    // A scoped package's subpath, through an exports pattern; a factory's options after it.
    const windowed = done(ok(await generate(['--plugin', '@acme/weft-plugins/window:keep=4', '--router', 'keep-newest'], at('proj'))));
    expect(windowed.kvBytes).toBe(done(ok(await generate(['--router', 'window:budget=4']))).kvBytes);
    // "main" without exports; an exports array's first usable target.
    ok(await generate(['--plugin', 'weft-plugin-main', '--max-tokens', '2'], at('proj')));
    expect(done(ok(await generate(['--plugin', 'weft-plugin-fallback:keep=4', '--router', 'keep-newest'], at('proj')))).kvBytes).toBe(windowed.kvBytes);
    // A plugin's own repository: its name (exports self-reference) and its folder.
    for (const spec of ['weft-plugin-dev', '..']) ok(await generate(['--plugin', spec, '--kv', 'int8-again', '--max-tokens', '2'], at('plugin-dev/test')));
    // Outside the project the package is not found, nor is one that weft itself depends on.
    for (const name of ['weft-plugin-story-tools', '@weft/plugin-kv']) {
      const missing = await generate(['--plugin', name], dir);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toBe(
        `weft: --plugin ${name}: cannot find the package "${name}" from ${dir} (no node_modules/${name} there or in a folder above it); install it there, or give the plugin's file path\n`,
      );
    }
  });

  it.each<[string, () => string, string?]>([
    // Not found.
    ['./missing.mjs', () => `no such file ${at('missing.mjs')}`],
    ['./window', () => `no such file ${at('window')} (did you mean ./window.mjs? the extension is part of the name)`],
    ['window.mjs', () => `cannot find the package "window.mjs" from ${dir} (no node_modules/window.mjs there or in a folder above it); install it there, or give the plugin's file path; for the file ${at('window.mjs')} write ./window.mjs`],
    ['@acme/weft-plugins/internal/secret', () => `@acme/weft-plugins does not export "./internal/secret" (${at('proj/node_modules/@acme/weft-plugins/package.json')}: "exports")`, 'proj/src'],
    ['weft-plugin-unbuilt', () => `weft-plugin-unbuilt exports "." as ./dist/index.js, but ${at('proj/node_modules/weft-plugin-unbuilt/dist/index.js')} is not there (is the package built?)`, 'proj'],
    ['weft-plugin-escapes', () => `${at('proj/node_modules/weft-plugin-escapes/package.json')} has an invalid "exports": the target "../window.mjs" must be a path inside the package, starting with ./`, 'proj'],
    ['node:fs', () => 'only a file path, a file:// URL or a package name can be a plugin'],
    ['./window.mjs:keep', () => `no such file ${at('window.mjs:keep')} (options are written ./window.mjs:key=value,…)`],
    [
      'weft-plugin-story-tools:fast',
      () => `cannot find the package "weft-plugin-story-tools:fast" from ${at('proj')} (no node_modules/weft-plugin-story-tools:fast there or in a folder above it); install it there, or give the plugin's file path; options are written weft-plugin-story-tools:key=value,…`,
      'proj',
    ],
    // Import failures.
    ['./throws.mjs', () => `importing ${at('throws.mjs')} failed: no config file found`],
    // A SyntaxError its code throws is not a syntax error in the file.
    ['./json-throws.mjs', () => `importing ${at('json-throws.mjs')} failed: SyntaxError: `],
    // What the module exports.
    ['./named-only.mjs', () => `${at('named-only.mjs')} exports no plugin (its exports: storyTools, version); --plugin takes a plugin made with definePlugin(), or a function that returns one, as the export named "plugin" or else the default export`],
    ['./nothing.mjs', () => `${at('nothing.mjs')} exports no plugin (it exports nothing); --plugin takes a plugin made with definePlugin(), or a function that returns one, as the export named "plugin" or else the default export`],
    ['./string.mjs', () => `the default export of ${at('string.mjs')} is a string ("weft-plugin-story-window"), not a plugin; --plugin takes a plugin made with definePlugin(), or a function that returns one, as the export named "plugin" or else the default export`],
    ['./object.mjs', () => `the default export of ${at('object.mjs')} is an object with name, version (no setup function), not a plugin; --plugin takes a plugin made with definePlugin(), or a function that returns one, as the export named "plugin" or else the default export`],
    ['./returns-nothing.mjs', () => `the default export of ${at('returns-nothing.mjs')} is a function, but it returned undefined, not a plugin; --plugin takes a plugin made with definePlugin(), or a function that returns one, as the export named "plugin" or else the default export`],
    ['./window.mjs:keep=0', () => `the default export of ${at('window.mjs')} (a function, called to make the plugin) failed: keep must be a whole number >= 1 (got 0)`],
    ['./store.mjs:group=32', () => `the export "plugin" of ${at('store.mjs')} is a plugin, not a function that makes one, so it takes no options (got group); export a function to take them`],
    // The runtime refuses it (core's PluginError).
    ['./setup-fails.mjs', () => 'Plugin "weft-plugin-broken" failed in setup: cannot reach the tokens server'],
    ['./open-range.mjs', () => 'Plugin "weft-plugin-open-range" failed in manifest: '],
    ['./bundled-name.mjs', () => 'Plugin "@weft/plugin-kv" failed in manifest: a plugin named "@weft/plugin-kv" is already installed in this runtime'],
    // The spec itself.
    ['./window.mjs:keep=4,window', () => '"window" in "./window.mjs:keep=4,window" must be key=value; a value is one number or string, never a list (several values go in one string, for a component that splits it).'],
    ['./window.mjs:keep=4,keep=5', () => '"keep" is given twice in "./window.mjs:keep=4,keep=5".'],
  ])('--plugin %s: exit 2, one line naming the flag and the module', async (spec, reason, where = '') => {
    const result = await generate(['--plugin', spec], at(where));
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^weft: [^\n]+\n$/);
    expect(result.stderr.startsWith(`weft: --plugin ${spec}: ${reason()}`), result.stderr).toBe(true);
  });

  it('names the second of two plugins with the same name', async () => {
    for (const second of ['./window.mjs', './same-name.mjs']) {
      const result = await generate(['--plugin', './window.mjs', '--plugin', second]);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(
        `weft: --plugin ${second}: Plugin "weft-plugin-story-window" failed in manifest: a plugin named "weft-plugin-story-window" is already installed in this runtime\n`,
      );
    }
  });

  it('refuses an empty spec or options without a module before loading anything', async () => {
    for (const [args, message] of [
      [['--plugin='], 'weft: --plugin needs a file path (./my-plugin.mjs) or a package name\n'],
      [['--plugin', ':keep=4'], 'weft: --plugin :keep=4: the module is missing before the options; write --plugin ./my-plugin.mjs:keep=4\n'],
    ] as const) {
      // No model is loaded: the folder does not exist.
      const result = await cli(['eval', '--model', at('no-model'), '--text-file', 'x.txt', ...args], { cwd: dir });
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(message);
    }
  });

  it('prints the stack of what the plugin threw with WEFT_DEBUG=1, and only then', async () => {
    vi.stubEnv('WEFT_DEBUG', '1');
    const debug = await generate(['--plugin', './setup-fails.mjs']);
    expect(debug.code).toBe(2);
    const [line, ...stack] = debug.stderr.trim().split('\n');
    expect(line).toMatch(/^weft: --plugin \.\/setup-fails\.mjs: Plugin "weft-plugin-broken" failed in setup/);
    // The error's own stack, then the innermost cause's: what the plugin threw.
    expect(stack[0]).toMatch(/^UsageError: --plugin \.\/setup-fails\.mjs: /);
    const cause = stack.indexOf('Caused by: Error: cannot reach the tokens server');
    expect(cause).toBeGreaterThan(0);
    expect(stack.slice(cause).join('\n')).toContain('setup-fails.mjs');
    vi.stubEnv('WEFT_DEBUG', '');
    expect((await generate(['--plugin', './setup-fails.mjs'])).stderr.trim().split('\n')).toHaveLength(1);
  });

  it('stops waiting for a module that never finishes importing when the command is interrupted', async () => {
    const controller = new AbortController();
    (globalThis as { __weftPluginLoading?: () => void }).__weftPluginLoading = () => controller.abort();
    try {
      const result = await cli(['generate', '--model', storyModel, '--prompt', PROMPT, '--plugin', './hangs.mjs'], { cwd: dir, signal: controller.signal });
      expect(result.code).toBe(130);
      expect(result.stderr).toBe('weft: interrupted\n');
    } finally {
      delete (globalThis as { __weftPluginLoading?: () => void }).__weftPluginLoading;
    }
  });
});

describe('parsePluginSpec', () => {
  it('splits the module from its options at the first ":" followed by key=', () => {
    expect(parsePluginSpec('./my-plugin.mjs')).toEqual({ text: './my-plugin.mjs', module: './my-plugin.mjs', options: undefined });
    expect(parsePluginSpec('weft-plugin-x:window=8,label=on,fast=true,scale=-1.5e2')).toEqual({
      text: 'weft-plugin-x:window=8,label=on,fast=true,scale=-1.5e2',
      module: 'weft-plugin-x',
      options: { window: 8, label: 'on', fast: true, scale: -150 },
    });
    expect(parsePluginSpec('C:\\plugins\\x.mjs:keep=4')).toMatchObject({ module: 'C:\\plugins\\x.mjs', options: { keep: 4 } });
    expect(parsePluginSpec('C:\\plugins\\x.mjs')).toMatchObject({ module: 'C:\\plugins\\x.mjs', options: undefined });
    expect(parsePluginSpec('./a:b/x.mjs')).toMatchObject({ module: './a:b/x.mjs', options: undefined });
    expect(parsePluginSpec('./x.mjs:url=http://localhost:8080/a')).toMatchObject({ module: './x.mjs', options: { url: 'http://localhost:8080/a' } });
    expect(parsePluginSpec('file:///tmp/x.mjs:keep=4')).toMatchObject({ module: 'file:///tmp/x.mjs', options: { keep: 4 } });
  });

  it('refuses malformed options with a usage error that quotes the spec as given', () => {
    expect(() => parsePluginSpec('./x.mjs:a=1,')).toThrow(new UsageError('--plugin ./x.mjs:a=1,: "" in "./x.mjs:a=1," must be key=value.'));
    expect(() => parsePluginSpec(' ')).toThrow(UsageError);
  });
});

describe('help and the invocation directory', () => {
  it.each(['generate', 'eval', 'bench', 'demo'] as const)('weft %s --help describes --plugin', (command) => {
    expect(USAGE[command]).toMatch(/^ {2}--plugin SPEC\[:k=v,\.\.\.\] {4}\S/m);
    expect(USAGE[command]).toMatch(/with your rights/);
  });

  it('keeps the working directory when a package script passes its own --plugin path', () => {
    const env = { INIT_CWD: '/home/u/notes', npm_package_json: join(repo, 'package.json'), npm_lifecycle_event: 'weft' };
    const entry = join(repo, 'packages/cli/dist/bin.js');
    expect(invocationDir(env, repo, entry, () => 'node packages/cli/dist/bin.js --plugin ./tools/p.mjs')).toBe(repo);
    expect(invocationDir(env, repo, entry, () => 'node packages/cli/dist/bin.js --plugin=./tools/p.mjs')).toBe(repo);
    expect(invocationDir(env, repo, entry, () => 'node packages/cli/dist/bin.js')).toBe('/home/u/notes');
  });
});

/** The built `weft` in a process of its own: Node's own import(), not the test runner's. */
describe.skipIf(!built)('--plugin in dist/bin.js', () => {
  const run = (args: readonly string[], cwd: string) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [bin, ...args], { cwd, timeout: 60_000 }, (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }));
    });

  it('names the file and line of a syntax error', async () => {
    const result = await run(['generate', '--model', storyModel, '--prompt', PROMPT, '--plugin', './syntax.mjs'], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`weft: --plugin ./syntax.mjs: syntax error in ${at('syntax.mjs')}:4: Unexpected identifier 'oops'\n`);
  });

  it('says which package a plugin imports is missing', async () => {
    const result = await run(['generate', '--model', storyModel, '--prompt', PROMPT, '--plugin', './needs-dependency.mjs'], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `weft: --plugin ./needs-dependency.mjs: cannot import ${at('needs-dependency.mjs')}: Cannot find package 'weft-no-such-dependency' imported from ${at('needs-dependency.mjs')}\n`,
    );
  });

  it('says how to install a @weft package that a plugin outside any project imports', async () => {
    const result = await run(['generate', '--model', storyModel, '--prompt', PROMPT, '--plugin', './needs-core/plugin.mjs'], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `weft: --plugin ./needs-core/plugin.mjs: cannot import ${at('needs-core/plugin.mjs')}: Cannot find package '@weft/core' imported from ${at('needs-core/plugin.mjs')}; ` +
        `a plugin's own imports resolve from its file's folder (${at('needs-core')}), not from weft's, so install @weft/core there ` +
        `(npm i @weft/core in that folder or its project) or move the plugin into a project that has it\n`,
    );
  });

  it('imports a package that imports its own @weft/core, and a CommonJS plugin', async () => {
    const args = ['generate', '--model', storyModel, '--threads', '1', '--prompt', PROMPT, '--max-tokens', '4', '--json'];
    const result = await run([...args, '--plugin', 'weft-plugin-with-core', '--kv', 'story-int4', '--plugin', '../cjs/plugin.cjs'], at('proj'));
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const int4 = await run([...args, '--kv', 'int4'], at('proj'));
    const last = (out: string) => JSON.parse(out.trim().split('\n').at(-1)!) as { kvBytes: number };
    expect(last(result.stdout).kvBytes).toBe(last(int4.stdout).kvBytes);
  });
});

describe('--plugin names a regular file', () => {
  it('refuses a device such as /dev/zero instead of importing it', async () => {
    const { code, stderr } = await cli(['generate', '--plugin', '/dev/zero', '--prompt', 'x']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^weft: --plugin \/dev\/zero: \/dev\/zero is not a regular file\n$/);
  });
});
