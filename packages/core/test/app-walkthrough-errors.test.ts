import { readFileSync } from 'node:fs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as core from '../src/index.js';
import {
  AdapterResolutionError,
  BackendError,
  ContextOverflowError,
  InvalidOptionsError,
  ModelDisposedError,
  ModelLoadError,
  PluginError,
  RuntimeDisposedError,
  WeftError,
  type WeftErrorCode,
} from '../src/index.js';

// Core's README said each WeftError has a stable `code` but never listed them, and `code` was
// typed `string`. The README's table is read here and compared with the classes, so the two
// cannot drift apart.

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The README's "Errors" table: code → class name, in order. */
function documentedCodes(): [string, string][] {
  const section = readme.split(/^## Errors$/m)[1]?.split(/^## /m)[0];
  if (section === undefined) throw new Error('core README has no "## Errors" section');
  const rows: [string, string][] = [];
  for (const line of section.split('\n')) {
    const row = /^\| `([^`]+)` \| `([^`]+)` \|/.exec(line);
    if (row) rows.push([row[1]!, row[2]!]);
  }
  return rows;
}

/** One instance of each error class core exports, by class name. */
const instances: Record<string, () => WeftError> = {
  ModelLoadError: () => new ModelLoadError('m'),
  InvalidOptionsError: () => new InvalidOptionsError('m'),
  ContextOverflowError: () => new ContextOverflowError('m', { promptTokens: 2, contextLength: 1 }),
  AdapterResolutionError: () => new AdapterResolutionError('kv-cache', '"x"', []),
  PluginError: () => new PluginError('p', 'setup', 'm'),
  BackendError: () => new BackendError('m'),
  ModelDisposedError: () => new ModelDisposedError(),
  RuntimeDisposedError: () => new RuntimeDisposedError(),
};

describe('error codes', () => {
  it("lists in core's README the code of every WeftError subclass core exports, as each class has it", () => {
    const table = documentedCodes();
    const exported = Object.entries(core)
      .filter(([, value]) => typeof value === 'function' && value.prototype instanceof WeftError)
      .map(([name]) => name)
      .sort();
    expect(table.map(([, name]) => name).sort()).toEqual(exported);
    for (const [code, name] of table) {
      const make = instances[name];
      expect(make, `no instance for ${name}`).toBeDefined();
      const error = make!();
      expect(error.code).toBe(code);
      expect(error.name).toBe(name);
      // The class recognises its own code.
      expect((core as unknown as Record<string, { isInstance(e: unknown): boolean }>)[name]!.isInstance(error)).toBe(true);
    }
    // Each code once.
    expect(new Set(table.map(([code]) => code)).size).toBe(table.length);
  });

  it('types each class\'s code as its literal, and WeftErrorCode as their union', () => {
    expectTypeOf(new ModelLoadError('m').code).toEqualTypeOf<'model-load'>();
    expectTypeOf(new InvalidOptionsError('m').code).toEqualTypeOf<'invalid-options'>();
    expectTypeOf(new ContextOverflowError('m', { promptTokens: 2, contextLength: 1 }).code).toEqualTypeOf<'context-overflow'>();
    expectTypeOf(new AdapterResolutionError('k', 'w', []).code).toEqualTypeOf<'adapter-resolution'>();
    expectTypeOf(new PluginError('p', 's', 'm').code).toEqualTypeOf<'plugin'>();
    expectTypeOf(new BackendError('m').code).toEqualTypeOf<'backend'>();
    expectTypeOf(new ModelDisposedError().code).toEqualTypeOf<'model-disposed'>();
    expectTypeOf(new RuntimeDisposedError().code).toEqualTypeOf<'runtime-disposed'>();
    expectTypeOf<WeftErrorCode>().toEqualTypeOf<
      'model-load' | 'invalid-options' | 'context-overflow' | 'adapter-resolution' | 'plugin' | 'backend' | 'model-disposed' | 'runtime-disposed'
    >();
    // The base keeps `string`: code outside core may subclass WeftError with a code of its own.
    expectTypeOf(new WeftError('my-code', 'm').code).toEqualTypeOf<string>();
    class QuotaError extends WeftError {
      constructor() {
        super('quota', 'over quota');
      }
    }
    expect(new QuotaError().code).toBe('quota');
    expect(WeftError.isInstance(new QuotaError())).toBe(true);
    // The union covers the README's table exactly (checked at run time too).
    const codes: readonly WeftErrorCode[] = documentedCodes().map(([code]) => code as WeftErrorCode);
    expect([...codes].sort()).toEqual(Object.values(instances).map((make) => make().code).sort());
  });
});

describe('error names in a minified bundle', () => {
  it("stay the classes' own names when a minifier renames the classes", () => {
    const make: [string, () => Error][] = [
      ['WeftError', () => new core.WeftError('x', 'm')],
      ['AdapterResolutionError', () => new core.AdapterResolutionError('kv-cache', '"x"', [])],
      ['BackendError', () => new core.BackendError('m')],
      ['ContextOverflowError', () => new core.ContextOverflowError('m', { promptTokens: 2, contextLength: 1 })],
      ['InvalidOptionsError', () => new core.InvalidOptionsError('m')],
      ['ModelDisposedError', () => new core.ModelDisposedError('m')],
      ['ModelLoadError', () => new core.ModelLoadError('m')],
      ['PluginError', () => new core.PluginError('p', 'setup', 'm')],
      ['RuntimeDisposedError', () => new core.RuntimeDisposedError('m')],
    ];
    const classes = make.map(([name]) => core[name as keyof typeof core] as { name: string });
    // What a minifier does to class names (`class m extends …`): a class's name property is configurable.
    for (const cls of classes) Object.defineProperty(cls, 'name', { value: 'm', configurable: true });
    try {
      for (const [name, build] of make) expect(build().name, name).toBe(name);
      // A subclass of a core class keeps its own name.
      class AcmeLoadError extends core.ModelLoadError {}
      expect(new AcmeLoadError('m').name).toBe('AcmeLoadError');
    } finally {
      for (const [i, cls] of classes.entries()) Object.defineProperty(cls, 'name', { value: make[i]![0], configurable: true });
    }
  });
});
