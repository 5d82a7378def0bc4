import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

// In a browser bundle the package's "browser" field maps onnxruntime-node to nothing, so the
// WebNN path (through @weft/backend-web) bundles without the native runtime; the chain then skips
// native providers ("browsers only have WebNN and wasm").
describe('browser bundle', () => {
  it('bundles src/index.ts for the browser with onnxruntime-node disabled and no Node.js import', async () => {
    const result = await build({
      entryPoints: [fileURLToPath(new URL('../src/index.ts', import.meta.url))],
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'esm',
      external: ['@weft/core', '@weft/backend-web'],
      logLevel: 'silent',
      metafile: true,
    });
    expect(result.errors).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((path) => path.includes('onnxruntime-node') && !path.startsWith('(disabled):'))).toEqual([]);
    const imports = Object.values(result.metafile.inputs).flatMap((input) => input.imports.map((i) => i.path));
    expect(imports.filter((path) => /^node:/.test(path))).toEqual([]);
  });
});
