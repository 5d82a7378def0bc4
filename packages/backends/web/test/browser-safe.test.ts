import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

// The package must bundle for browsers: nothing it imports may be a Node.js module. esbuild with
// platform `browser` refuses to resolve `node:*` and the other built-ins, so a stray import fails
// the build. Core and onnxruntime-web are left external (each has its own browser story).
describe('browser safety', () => {
  it('bundles src/index.ts for the browser with no Node.js import', async () => {
    const result = await build({
      entryPoints: [fileURLToPath(new URL('../src/index.ts', import.meta.url))],
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'esm',
      external: ['@weft/core', 'onnxruntime-web'],
      logLevel: 'silent',
      metafile: true,
    });
    expect(result.errors).toEqual([]);
    const imports = Object.values(result.metafile.inputs).flatMap((input) => input.imports.map((i) => i.path));
    expect(imports.filter((path) => /^(node:|fs$|path$|os$|module$)/.test(path))).toEqual([]);
    const code = result.outputFiles[0]!.text;
    expect(code).toMatch(/import\("onnxruntime-web"\)/); // loaded lazily, on first use
    expect(code).not.toMatch(/from\s*["']node:/);
  });
});
