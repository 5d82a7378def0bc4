import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BackendError, InvalidOptionsError, type ModelSource } from '@weft/core';
import { WebBackendAdapter, webBackend } from '../src/index.js';
import { tinyModel } from './helpers.js';

// Its own file: onnxruntime-web's runtime is process-wide, and here the first session of the
// process runs on the default build (vitest runs each file in a fresh process here).

const tinyBytes = (): ModelSource => ({ kind: 'bytes', bytes: new Uint8Array(readFileSync(`${tinyModel}/onnx/model.onnx`)) });

describe('the runtime option after a session on the default build', () => {
  it('a loader that fails, or gives something that is not onnxruntime-web, is a typed error naming the option', async () => {
    const failing = new WebBackendAdapter({ runtime: () => Promise.reject(new Error('Failed to fetch dynamically imported module: /assets/ort.mjs')) });
    await expect(failing.createSession(tinyBytes())).rejects.toThrow(BackendError);
    await expect(failing.createSession(tinyBytes())).rejects.toThrow(/^onnxruntime-web could not be loaded by webBackend\(\{ runtime \}\): Failed to fetch dynamically imported module/);
    expect(await failing.probe()).toMatchObject({ available: false, reason: expect.stringMatching(/could not be loaded by webBackend\(\{ runtime \}\)/) });
    // The last: onnxruntime-node's (or onnxruntime-common's) shape, which has no env.versions.web.
    const notWeb = { InferenceSession: { create: async () => ({}) }, Tensor: class {}, env: { wasm: {}, versions: { common: '1.30.0', node: '1.30.0' } } };
    for (const value of [{}, { default: {} }, undefined, 42, notWeb, { default: notWeb }]) {
      const wrong = new WebBackendAdapter({ runtime: async () => value });
      await expect(wrong.createSession(tinyBytes())).rejects.toThrow(InvalidOptionsError);
      await expect(wrong.createSession(tinyBytes())).rejects.toMatchObject({ option: 'runtime', message: expect.stringMatching(/^runtime must resolve to onnxruntime-web's module/) });
    }
  });

  it('a backend whose runtime is the wasm-only build is refused, and that build never starts', async () => {
    const first = await new WebBackendAdapter().createSession(tinyBytes());
    // A loader of the default module is the same runtime.
    const same = await new WebBackendAdapter({ runtime: () => import('onnxruntime-web') }).createSession(tinyBytes());
    const wasmOnly = new WebBackendAdapter({ runtime: () => import('onnxruntime-web/wasm') });
    expect(await wasmOnly.probe()).toMatchObject({ available: false, reason: expect.stringMatching(/another build than this web backend loads/) });
    const refusal = wasmOnly.createSession(tinyBytes());
    await expect(refusal).rejects.toThrow(InvalidOptionsError);
    await expect(refusal).rejects.toMatchObject({ option: 'runtime' });
    const module: { default?: unknown; env?: unknown } = await import('onnxruntime-web/wasm');
    expect(((module.default ?? module) as typeof import('onnxruntime-web')).env.wasm.numThreads).toBeUndefined();
    await Promise.all([first.release(), same.release()]);
  });

  it('webBackend() checks that runtime is a function', () => {
    for (const runtime of ['onnxruntime-web/wasm', {}, null]) {
      expect(() => webBackend({ runtime: runtime as never })).toThrow(InvalidOptionsError);
      expect(() => webBackend({ runtime: runtime as never })).toThrow(/^runtime must be a function that imports onnxruntime-web, e\.g\. \(\) => import\('onnxruntime-web\/wasm'\); got /);
    }
  });
});
