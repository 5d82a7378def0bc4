import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackendError, createWeft } from '@weft/core';
import { nodeBackend } from '@weft/backend-node';
import { WebBackendAdapter, webBackend } from '../src/index.js';
import { noteSessionAttempt, throwIfInitFailed } from '../src/load-runtime.js';
import { tinyModel } from './helpers.js';

// Its own file: the default build's failed initialisation stays for the rest of the process
// (vitest runs each file in a fresh process here).

const source = { kind: 'path', path: `${tinyModel}/onnx/model.onnx` } as const;
/** Where onnxruntime-web's runtime files really are (its dist folder). */
const served = `${dirname(createRequire(import.meta.url).resolve('onnxruntime-web'))}/`;
const cannotRetry =
  /^onnxruntime-web could not load its runtime files from \/nonexistent\/weft-ort\/ort-wasm-simd-threaded\.mjs earlier in this process, and it cannot retry its initialisation in this process: set webBackend\(\{ wasmPaths \}\) to where its files are served, then restart the process\.$/;

describe('onnxruntime-web that could not load its runtime files once (review 31)', () => {
  it('fails the first load naming the file, and every later one saying it cannot retry, whatever wasmPaths say then', async () => {
    const first = await new WebBackendAdapter({ numThreads: 1, wasmPaths: '/nonexistent/weft-ort/' }).createSession(source).catch((e: unknown) => e);
    expect(BackendError.isInstance(first)).toBe(true);
    expect((first as Error).message).toMatch(/on wasm: it could not fetch its runtime files from \/nonexistent\/weft-ort\/ort-wasm-simd-threaded\.mjs; set webBackend\(\{ wasmPaths \}\)/);
    // Before: onnxruntime-web's cached failure, with the old URL and the advice to set wasmPaths.
    const fixed = new WebBackendAdapter({ numThreads: 1, wasmPaths: served });
    const again = await fixed.createSession(source).catch((e: unknown) => e);
    expect(BackendError.isInstance(again)).toBe(true);
    expect((again as Error).message).toMatch(cannotRetry);
    expect(await fixed.probe()).toEqual({ available: false, reason: expect.stringMatching(cannotRetry) });
  });

  it('so `auto` moves on to another backend', async () => {
    const weft = createWeft({ plugins: [nodeBackend({ priority: 10, defaults: { intraOpNumThreads: 1 } }), webBackend({ numThreads: 1, wasmPaths: served, priority: 200 })] });
    try {
      const model = await weft.load(tinyModel);
      expect(model.backend).toBe('node');
      expect(model.rejectedBackends).toEqual([{ name: 'web', reason: expect.stringMatching(/cannot retry its initialisation in this process/) }]);
    } finally {
      await weft.dispose();
    }
  });

  it("in a browser: names the URL the page could not fetch and says to reload it; a build without the provider records nothing", () => {
    const module = () => ({ env: { wasm: {} } }) as unknown as Parameters<typeof throwIfInitFailed>[0];
    const page = module();
    noteSessionAttempt(page, new Error('no available backend found. ERR: [wasm] TypeError: Failed to fetch dynamically imported module: https://x.test/ort/ort-wasm-simd-threaded.jsep.mjs'));
    // A second failure (onnxruntime-web's cached one) does not replace the first.
    noteSessionAttempt(page, new Error('no available backend found. ERR: [wasm] Error: previous call to initializeWebAssembly() failed.'));
    expect(() => throwIfInitFailed(page, false)).toThrow(
      /^onnxruntime-web could not load its runtime files from https:\/\/x\.test\/ort\/ort-wasm-simd-threaded\.jsep\.mjs earlier in this page, and it cannot retry its initialisation in this page: .* then reload the page\.$/,
    );
    const wasmOnly = module();
    noteSessionAttempt(wasmOnly, new Error('no available backend found. ERR: [webgpu] backend not found.'));
    expect(() => throwIfInitFailed(wasmOnly, false)).not.toThrow();
    const other = module();
    noteSessionAttempt(other, new Error('no available backend found. ERR: [wasm] RuntimeError: Aborted(CompileError: bad magic)'));
    expect(() => throwIfInitFailed(other, true)).toThrow(/^onnxruntime-web failed to initialise \(no available backend found\. ERR: \[wasm\] RuntimeError: Aborted\(CompileError: bad magic\)\) earlier in this process/);
  });
});
