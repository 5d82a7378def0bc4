import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BackendError, InvalidOptionsError, type ModelSource } from '@weft/core';
import { detectEnvironment, WebBackendAdapter, WebSession, type WebEnvironment } from '../src/index.js';
import { tinyModel } from './helpers.js';

// Its own file: onnxruntime-web's runtime is process-wide. The tests run in order: nothing starts
// in the first two, the third's build fails to start, and the fourth then runs the default build
// (vitest runs each file in a fresh process here).

const wasmOnly = () => import('onnxruntime-web/wasm');
const jsep = () => import('onnxruntime-web/webgpu');
const ortOf = async (m: Promise<object>): Promise<typeof import('onnxruntime-web')> => {
  const module = (await m) as { default?: unknown };
  return (module.default ?? module) as typeof import('onnxruntime-web');
};
const tinyBytes = (): ModelSource => ({ kind: 'bytes', bytes: new Uint8Array(readFileSync(`${tinyModel}/onnx/model.onnx`)) });
/** This process as a browser with a WebGPU adapter (for the provider checks only). */
const withGpu: WebEnvironment = { ...detectEnvironment(), node: false, gpu: { requestAdapter: async () => ({}) } };

describe('the runtime option: nothing starts before a session, and a failed start claims nothing', () => {
  it('under Node.js, a browser build with more than one thread is an InvalidOptionsError naming numThreads, before anything starts', async () => {
    // probe() says so too, rather than available and then a refused load (review 30).
    const probed = await new WebBackendAdapter({ runtime: wasmOnly, numThreads: 2 }).probe();
    expect(probed).toMatchObject({ available: false, reason: expect.stringMatching(/numThreads 2: under Node\.js/) });
    const refusal = new WebBackendAdapter({ runtime: wasmOnly, numThreads: 2 }).createSession(tinyBytes());
    await expect(refusal).rejects.toThrow(InvalidOptionsError);
    await expect(refusal).rejects.toMatchObject({ option: 'numThreads', message: expect.stringMatching(/under Node\.js .* runs on one thread only .*set numThreads: 1/) });
    expect((await ortOf(wasmOnly())).env.wasm.numThreads).toBeUndefined();
  });

  it('probe() of a build with WebGPU listed starts nothing: it says the build is checked at load, and another build stays free', async () => {
    const adapter = new WebBackendAdapter({ runtime: jsep, executionProviders: ['webgpu', 'wasm'], numThreads: 1 }, withGpu);
    const probe = await adapter.probe();
    expect(probe).toMatchObject({ available: true, executionProviders: ['webgpu', 'wasm'] });
    expect(probe.reason).toMatch(/^webgpu: whether the onnxruntime-web build that webBackend\(\{ runtime \}\) loads has webgpu is checked when a session is created$/);
    expect((await adapter.probeProviders()).webgpu).toEqual({ available: true, reason: expect.stringMatching(/is checked when a session is created$/) });
    // onnxruntime-web writes numThreads when its wasm starts (and the settings were never applied).
    expect((await ortOf(jsep())).env.wasm.numThreads).toBeUndefined();
    expect(await new WebBackendAdapter({ numThreads: 1 }).probe()).toMatchObject({ available: true });
  });

  it('a build whose runtime files cannot be fetched fails with a BackendError and does not become the process build', async () => {
    const broken = new WebBackendAdapter({ runtime: wasmOnly, numThreads: 1, wasmPaths: 'file:///nonexistent/weft-ort/' });
    await expect(broken.createSession(tinyBytes())).rejects.toThrow(BackendError);
    // onnxruntime-web keeps its failed initialisation: a second attempt says it cannot retry (review 31).
    await expect(broken.createSession(tinyBytes())).rejects.toThrow(/could not load its runtime files from .*weft-ort.* earlier in this process, and it cannot retry its initialisation/);
    // onnxruntime-web recorded the thread count before it failed; that is no start.
    expect((await ortOf(wasmOnly())).env.wasm.numThreads).toBe(1);
    expect(await new WebBackendAdapter({ numThreads: 1 }).probe()).toMatchObject({ available: true });
  });

  it('the default build then runs, and from then on it is the process build', async () => {
    const session = await new WebBackendAdapter({ numThreads: 1 }).createSession(tinyBytes());
    expect(session).toBeInstanceOf(WebSession);
    const refusal = new WebBackendAdapter({ runtime: wasmOnly }).createSession(tinyBytes());
    await expect(refusal).rejects.toThrow(InvalidOptionsError);
    await expect(refusal).rejects.toMatchObject({ option: 'runtime' });
    await session.release();
  });
});
