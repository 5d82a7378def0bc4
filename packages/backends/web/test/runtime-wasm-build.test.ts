import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { BackendError, createWeft, InvalidOptionsError, type ModelSource } from '@weft/core';
import { nodeBackend } from '@weft/backend-node';
import { detectEnvironment, WebBackendAdapter, webBackend, WebSession, type WebEnvironment } from '../src/index.js';
import { collect, done, modelFolders, tinyModel } from './helpers.js';

// Its own file: onnxruntime-web's runtime is process-wide, and here the first session of the
// process runs on the wasm-only build (vitest runs each file in a fresh process here).
// `onnxruntime-web/wasm` resolves under Node.js too (to the browser bundle a bundler picks, which
// runs on one thread there: the backend defaults numThreads to 1 for it under Node.js).

const wasmOnly = () => import('onnxruntime-web/wasm');
const ortOf = async (m: Promise<object>): Promise<typeof import('onnxruntime-web')> => {
  const module = (await m) as { default?: unknown };
  return (module.default ?? module) as typeof import('onnxruntime-web');
};
const tinyBytes = (): ModelSource => ({ kind: 'bytes', bytes: new Uint8Array(readFileSync(`${tinyModel}/onnx/model.onnx`)) });
/** This process as a browser with a WebGPU adapter and WebNN contexts (for the provider checks only). */
const withGpuAndNn: WebEnvironment = {
  ...detectEnvironment(),
  node: false,
  gpu: { requestAdapter: async () => ({}) },
  ml: { createContext: async () => ({}) },
};

describe('webBackend({ runtime: () => import("onnxruntime-web/wasm") })', () => {
  it("runs on that build (the default module never initialises) and gives the node backend's greedy ids", async () => {
    const loader = vi.fn(wasmOnly);
    // No numThreads: onnxruntime-web's default would fail under Node.js ("Dynamic require of node:os").
    const weft = createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: 1 } }), webBackend({ runtime: loader })] });
    try {
      for (const { dir } of modelFolders()) {
        const onNode = await weft.load(dir, { backend: 'node' });
        const onWeb = await weft.load(dir, { backend: 'web' });
        const request = { prompt: 'Once upon a time', maxTokens: 12, temperature: 0 } as const;
        expect(done(await collect(onWeb.generate(request))).rows[0]!.ids).toEqual(done(await collect(onNode.generate(request))).rows[0]!.ids);
        await Promise.all([onNode.dispose(), onWeb.dispose()]);
      }
    } finally {
      await weft.dispose();
    }
    // Called once, and its module is the one whose wasm started; the default import's never did.
    expect(loader).toHaveBeenCalledTimes(1);
    expect((await ortOf(wasmOnly())).env.wasm.numThreads).toBe(1);
    expect((await ortOf(import('onnxruntime-web'))).env.wasm.numThreads).toBeUndefined();
  });

  it('another loader of the same module is the same runtime: accepted', async () => {
    const session = await new WebBackendAdapter({ runtime: () => import('onnxruntime-web/wasm') }).createSession(tinyBytes());
    await session.release();
  });

  it('a backend on another build (the default one) is refused once a session runs: probe says why, createSession throws InvalidOptionsError', async () => {
    const other = new WebBackendAdapter();
    const probe = await other.probe();
    expect(probe.available).toBe(false);
    expect(probe.reason).toMatch(/^onnxruntime-web already runs in this process from another build than this web backend loads/);
    const refusal = other.createSession(tinyBytes());
    await expect(refusal).rejects.toThrow(InvalidOptionsError);
    await expect(refusal).rejects.toMatchObject({ option: 'runtime', message: expect.stringMatching(/give every web backend the same runtime\.$/) });
    expect((await ortOf(import('onnxruntime-web'))).env.wasm.numThreads).toBeUndefined();
  });

  it('webgpu and webnn are unavailable on it even where the browser has them: the session names wasm only, and probe says so once a load found out', async () => {
    const adapter = new WebBackendAdapter({ runtime: wasmOnly, executionProviders: ['webgpu', { name: 'webnn', deviceType: 'gpu' }, 'wasm'] }, withGpuAndNn);
    // probe() starts nothing, so it cannot know yet: the build is checked at load.
    const before = await adapter.probe();
    expect(before).toMatchObject({ available: true, executionProviders: ['webgpu', 'webnn', 'wasm'] });
    expect(before.reason).toContain('webgpu: whether the onnxruntime-web build that webBackend({ runtime }) loads has webgpu is checked when a session is created');
    expect((await adapter.probeProviders()).webgpu).toEqual({ available: true, reason: expect.stringMatching(/is checked when a session is created$/) });
    // onnxruntime-web itself would drop them with a console warning, and the session would have named them.
    const warn = vi.spyOn(console, 'warn');
    try {
      const session = await adapter.createSession(tinyBytes());
      expect(session).toBeInstanceOf(WebSession);
      expect((session as WebSession).executionProviders).toEqual(['wasm']);
      await session.release();
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
    const probe = await adapter.probe();
    expect(probe).toMatchObject({ available: true, executionProviders: ['wasm'] });
    expect(probe.reason).toContain('webgpu: unavailable, the onnxruntime-web build that webBackend({ runtime }) loads has no webgpu backend');
    expect(probe.reason).toContain('webnn: unavailable, the onnxruntime-web build that webBackend({ runtime }) loads has no webnn backend');
    const providers = await adapter.probeProviders();
    expect(providers.webgpu).toEqual({ available: false, reason: expect.stringMatching(/has no webgpu backend/) });
    expect(providers.webnn).toEqual({ available: false, reason: expect.stringMatching(/has no webnn backend/) });
  });

  it('webgpu alone on it: a BackendError saying the build has no webgpu, at once', async () => {
    const adapter = new WebBackendAdapter({ runtime: wasmOnly, executionProviders: ['webgpu'] }, withGpuAndNn);
    const refusal = adapter.createSession(tinyBytes());
    await expect(refusal).rejects.toThrow(BackendError);
    await expect(refusal).rejects.toThrow(
      /on webgpu: it is not available here \(webgpu: the onnxruntime-web build that webBackend\(\{ runtime \}\) loads has no webgpu backend \(onnxruntime-web\/wasm runs wasm only/,
    );
  });
});
