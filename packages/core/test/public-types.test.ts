import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const coreDir = fileURLToPath(new URL('..', import.meta.url));

/**
 * Compiles `code` as a consumer of the built `@weft/core` (its published .d.ts, resolved by package
 * self-reference from inside the package), strict, with declaration output. Returns the type
 * errors and the emitted .d.ts.
 */
function compileAgainstCore(code: string): { errors: string[]; dts: string } {
  const dir = mkdtempSync(join(coreDir, 'test', '.types-'));
  try {
    const file = join(dir, 'consumer.ts');
    writeFileSync(file, code);
    const program = ts.createProgram([file], {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      exactOptionalPropertyTypes: true,
      declaration: true,
      emitDeclarationOnly: true,
      skipLibCheck: true,
      types: [],
    });
    let dts = '';
    const emitted = program.emit(undefined, (name, text) => {
      if (name.endsWith('.d.ts')) dts = text;
    });
    const errors = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics].map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    return { errors, dts };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the public types, as a plugin package compiles against them', () => {
  it('lets a plugin export a token, subclass the fp32 store under its own name, and take a plugin built against another core copy', () => {
    const { errors, dts } = compileAgainstCore(`
import { createWeft, definePlugin, extensionPointToken, FullPrecisionKvStore, type WeftPluginManifest } from '@weft/core';

export const BACKEND_TOKEN = extensionPointToken('backend');

export class CountingStore extends FullPrecisionKvStore {
  override readonly name = 'counting';
}

// What a plugin built against another installed copy of core looks like to this copy: the same
// manifest, marked with that copy's own unique symbol.
declare const otherCopyMark: unique symbol;
declare const fromOtherCopy: WeftPluginManifest & { readonly [otherCopyMark]: true };
export const weft = createWeft({ plugins: [fromOtherCopy, definePlugin({ name: 'local', version: '1.0.0', apiVersion: '^0.1.0', setup() {} })] });
`);
    expect(errors).toEqual([]);
    // The token's type is named through @weft/core, not inversify (which a plugin does not depend on).
    expect(dts).toMatch(/BACKEND_TOKEN: import\("@weft\/core"\)\.ServiceToken</);
    expect(dts).not.toMatch(/inversify/);
  });
});

describe('analysis events, as an app reads them', () => {
  it('are typed by the analyzer: no casts, and a wrong read is a type error', () => {
    const code = (read: string) => `
import { analysesOf, isAnalysisOf, type Analyzer, type GenerationEvent } from '@weft/core';
import type { Observable } from 'rxjs';

const top: Analyzer<{ id: number }[]> = { name: 'top', observe: ({ logits }) => logits.map(() => ({ id: 0 })) };
declare const events: Observable<GenerationEvent>;
declare const event: GenerationEvent;
export const ids = events.pipe(analysesOf(top));
if (isAnalysisOf(event, top)) { ${read} }
if (isAnalysisOf<number[]>(event, 'entropy')) { const first: number | undefined = event.data[0]; void first; }
`;
    expect(compileAgainstCore(code('const id: number = event.data[0]!.id; void id;')).errors).toEqual([]);
    expect(compileAgainstCore(code('const id: string = event.data[0]!.id; void id;')).errors).toEqual([expect.stringMatching(/Type 'number' is not assignable to type 'string'/)]);
  });

  it('are typed by a typed name that a plugin exports, which stays a string in a request', () => {
    const code = (read: string) => `
import { analysesOf, analyzerName, isAnalysisOf, type AnalysisEvent, type GenerationEvent, type GenerationRequest } from '@weft/core';
import type { Observable, OperatorFunction } from 'rxjs';

// What a plugin package exports beside the analyzer it registers.
export const decisions = analyzerName<{ kept: number; evicted: number[] }>('acme-decisions');
export const request: GenerationRequest = { prompt: 'Once', analyzers: [decisions, { name: decisions }] };
declare const events: Observable<GenerationEvent>;
declare const event: GenerationEvent;
export const typed: Observable<AnalysisEvent<{ kept: number; evicted: number[] }>> = events.pipe(analysesOf(decisions));
export const name: string = decisions;
if (isAnalysisOf(event, decisions)) { ${read} }
`;
    expect(compileAgainstCore(code('const kept: number = event.data.kept; void kept;')).errors).toEqual([]);
    expect(compileAgainstCore(code('const kept: string = event.data.kept; void kept;')).errors).toEqual([expect.stringMatching(/Type 'number' is not assignable to type 'string'/)]);
    // The operator's type follows the name's: an operator of another data type does not fit.
    expect(compileAgainstCore(code('') + 'export const wrong: OperatorFunction<GenerationEvent, AnalysisEvent<string>> = analysesOf(decisions);').errors).toEqual([
      expect.stringMatching(/not assignable/),
    ]);
  });
});
