import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendError, createWeft, ModelLoadError } from '@weft/core';
import { WebBackendAdapter, webBackend } from '../src/index.js';
import { sessionFailureMessage } from '../src/web-backend-adapter.js';
import { collect, done, tinyModel } from './helpers.js';

describe('web backend errors', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-web-corrupt-'));
    await cp(tinyModel, dir, { recursive: true });
    await writeFile(join(dir, 'onnx/model.onnx'), new TextEncoder().encode('this is not an ONNX protobuf, just text'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('corrupt bytes: BackendError naming the backend and the parse failure', async () => {
    const adapter = new WebBackendAdapter();
    const error = await adapter.createSession({ kind: 'bytes', bytes: new Uint8Array([8, 1, 18, 255, 255, 255]) }).catch((e: unknown) => e);
    expect(BackendError.isInstance(error)).toBe(true);
    expect((error as BackendError).backend).toBe('web');
    expect((error as Error).message).toMatch(/onnxruntime-web could not create a session from 6 bytes on wasm: .*protobuf parsing failed/);
  });

  it('corrupt model file through weft.load: ModelLoadError with the graph path', async () => {
    const weft = createWeft({ plugins: [webBackend()] });
    const error = await weft.load(dir, { backend: 'web' }).catch((e: unknown) => e);
    expect(ModelLoadError.isInstance(error)).toBe(true);
    expect((error as ModelLoadError).path).toBe(join(dir, 'onnx/model.onnx'));
    expect((error as Error).message).toMatch(/The web backend could not load .*model\.onnx \(corrupt or truncated ONNX file\?\)/);
    await weft.dispose();
  });

  it("runtime files onnxruntime-web could not fetch: the message starts with that URL and wasmPaths, then onnxruntime-web's own words", () => {
    // What onnxruntime-web 1.30 rejects with in Chromium when its loader is not at the URL it imports.
    const ort =
      'no available backend found. ERR: [wasm] TypeError: Failed to fetch dynamically imported module: http://localhost:5173/node_modules/.vite/deps/ort-wasm-simd-threaded.jsep.mjs';
    const message = sessionFailureMessage(ort, { missing: ['webgpu: no GPU adapter'] });
    expect(message).toBe(
      "it could not fetch its runtime files from http://localhost:5173/node_modules/.vite/deps/ort-wasm-simd-threaded.jsep.mjs; set webBackend({ wasmPaths }) to where they are served. " +
        `${ort} (not tried, unavailable here: webgpu: no GPU adapter)`,
    );
    // Firefox's wording too; other failures are passed on as they are.
    expect(sessionFailureMessage('no available backend found. ERR: [wasm] TypeError: error loading dynamically imported module: https://x.test/ort/ort-wasm-simd-threaded.mjs')).toMatch(
      /^it could not fetch its runtime files from https:\/\/x\.test\/ort\/ort-wasm-simd-threaded\.mjs; set webBackend\(\{ wasmPaths \}\)/,
    );
    expect(sessionFailureMessage('Failed to fetch dynamically imported module: http://localhost/src/app.mjs')).toBe('Failed to fetch dynamically imported module: http://localhost/src/app.mjs');
    expect(sessionFailureMessage('protobuf parsing failed')).toBe('protobuf parsing failed');
  });

  it('missing file: ModelLoadError naming the path', async () => {
    const path = join(dir, 'onnx/nope.onnx');
    await expect(new WebBackendAdapter().createSession({ kind: 'path', path })).rejects.toMatchObject({ code: 'model-load', path });
  });

  it('release while a run is in flight frees the session once the run has settled; the run fails, as on node', async () => {
    const session = await new WebBackendAdapter({ numThreads: 1 }).createSession({ kind: 'path', path: join(tinyModel, 'onnx/model.onnx') });
    const feeds = Object.fromEntries(
      session.inputMetadata.map(({ name, type, shape }) => {
        // One position, an empty cache: every free dimension is 1, the past length 0.
        const dims = (shape ?? []).map((d) => (typeof d === 'number' ? d : name.startsWith('past_key_values') && d === (shape ?? [])[2] ? 0 : 1));
        const size = dims.reduce((a, b) => a * b, 1);
        return [name, type === 'int64' ? session.createTensor('int64', new BigInt64Array(size).fill(1n), dims) : session.createTensor('float32', new Float32Array(size), dims)];
      }),
    );
    expect((await session.run(feeds))['logits']!.dims).toEqual([1, 1, 1024]);
    const order: string[] = [];
    const run = session.run(feeds).then(
      () => order.push('ran'),
      (e: Error) => order.push(`run failed: ${BackendError.isInstance(e) ? `BackendError (${e.backend}): ` : ''}${e.message}`),
    );
    // Before, onnxruntime-web freed the session under the run, which then read freed memory: it
    // failed with a garbage error ("Invalid input name: input_ids"), and in a page it could hang.
    const release = session.release().then(() => order.push('released'));
    await Promise.all([run, release]);
    // Released in the turn the run was asked for, before its turn came: it never reached onnxruntime-web.
    expect(order).toEqual(['run failed: BackendError (web): This session was released before this run started; load the model again.', 'released']);
    expect(session.release()).toBe(session.release());
    await expect(session.run(feeds)).rejects.toThrow(/^This session was released; load the model again\.$/);
  });

  it('a released session refuses to run', async () => {
    const session = await new WebBackendAdapter().createSession({ kind: 'path', path: join(tinyModel, 'onnx/model.onnx') });
    await session.release();
    await session.release();
    await expect(session.run({})).rejects.toThrow(/released/);
  });
});

describe('web backend and the event loop', () => {
  it('lets the event loop run between steps, so an abort from a macrotask stops generation', async () => {
    const weft = createWeft({ plugins: [webBackend({ numThreads: 1 })] });
    try {
      const model = await weft.load(tinyModel, { backend: 'web' });
      const controller = new AbortController();
      // A macrotask queued as the run starts: it only runs if some step yields to the event loop.
      const generation = collect(model.generate({ prompt: 'x', maxTokens: 200, ignoreEos: true, signal: controller.signal }));
      setImmediate(() => controller.abort());
      const last = done(await generation);
      expect(last.finishReason).toBe('abort');
      expect(last.usage.completionTokens).toBeLessThan(5);
    } finally {
      await weft.dispose();
    }
  });
});
