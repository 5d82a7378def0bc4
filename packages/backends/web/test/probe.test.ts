import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { nodeBackend } from '@weft/backend-node';
import { createWeft } from '@weft/core';
import { WebBackendAdapter, detectEnvironment, probeWebProviders, webBackend, type WebEnvironment } from '../src/index.js';
import { tinyModel } from './helpers.js';

const browser = (overrides: Partial<WebEnvironment>): WebEnvironment => ({
  node: false,
  webAssembly: true,
  sharedArrayBuffer: true,
  crossOriginIsolated: true,
  hardwareConcurrency: 8,
  gpu: undefined,
  ml: undefined,
  ...overrides,
});

describe('web backend probe', () => {
  it('in Node: wasm available (threads allowed), WebGPU and WebNN unavailable with reasons', async () => {
    const env = detectEnvironment();
    expect(env.node).toBe(true);
    const probe = await probeWebProviders(env);
    expect(probe.wasm).toEqual({ available: true, threads: true });
    expect(probe.webgpu.available).toBe(false);
    expect(probe.webgpu.reason).toMatch(/Node\.js build has no WebGPU/);
    expect(probe.webnn.available).toBe(false);
    expect(probe.webnn.reason).toMatch(/Node\.js build has no WebNN/);

    // The adapter's probe checks only the providers it is configured with.
    expect(await new WebBackendAdapter().probe()).toEqual({ available: true, executionProviders: ['wasm'], reason: undefined });
    const summary = await new WebBackendAdapter({ executionProviders: ['webgpu', 'webnn', 'wasm'] }).probe();
    expect(summary.available).toBe(true);
    expect(summary.executionProviders).toEqual(['wasm']);
    expect(summary.reason).toMatch(/webgpu: unavailable/);
    expect(summary.reason).toMatch(/webnn: unavailable/);
  });

  it('a wasm-only backend never asks navigator.gpu or navigator.ml, in its probe or its sessions', async () => {
    const asked: string[] = [];
    const env: WebEnvironment = {
      ...detectEnvironment(),
      node: false,
      gpu: { requestAdapter: async () => (asked.push('gpu'), null) },
      ml: { createContext: async () => (asked.push('ml'), {}) },
    };
    const adapter = new WebBackendAdapter({ numThreads: 1 }, env);
    expect(await adapter.probe()).toEqual({ available: true, executionProviders: ['wasm'], reason: undefined });
    const bytes = new Uint8Array(await readFile(`${tinyModel}/onnx/model.onnx`));
    await (await adapter.createSession({ kind: 'bytes', bytes })).release();
    expect(asked).toEqual([]);
    await new WebBackendAdapter({ executionProviders: ['webgpu', 'wasm'] }, env).probe();
    expect(asked).toEqual(['gpu']);
  });

  it('is unavailable when only providers missing here are configured, and says why', async () => {
    const probe = await new WebBackendAdapter({ executionProviders: ['webgpu', 'webnn'] }).probe();
    expect(probe.available).toBe(false);
    expect(probe.reason).toMatch(/none of the configured providers \(webgpu, webnn\)/);
  });

  it('a session asked only for WebGPU in Node fails with a BackendError that says why', async () => {
    const adapter = new WebBackendAdapter({ executionProviders: ['webgpu'] });
    await expect(adapter.createSession({ kind: 'path', path: `${tinyModel}/onnx/model.onnx` })).rejects.toMatchObject({
      code: 'backend',
      backend: 'web',
      message: expect.stringMatching(/webgpu: onnxruntime-web's Node\.js build has no WebGPU/),
    });
  });

  it('browser facts: threads need cross-origin isolation; WebGPU needs an adapter; WebNN needs a context', async () => {
    const isolated = await probeWebProviders(browser({}));
    expect(isolated.wasm).toEqual({ available: true, threads: true });
    expect(isolated.webgpu.reason).toMatch(/navigator\.gpu is undefined/);
    expect(isolated.webnn.reason).toMatch(/navigator\.ml is undefined/);

    const plain = await probeWebProviders(browser({ crossOriginIsolated: false }));
    expect(plain.wasm.threads).toBe(false);
    expect(plain.wasm.reason).toMatch(/not cross-origin isolated/);

    const noAdapter = await probeWebProviders(browser({ gpu: { requestAdapter: async () => null } }));
    expect(noAdapter.webgpu).toEqual({ available: false, reason: 'navigator.gpu.requestAdapter() found no adapter' });

    const withGpu = await probeWebProviders(browser({ gpu: { requestAdapter: async () => ({}) } }));
    expect(withGpu.webgpu).toEqual({ available: true });

    const noNpu = await probeWebProviders(
      browser({ ml: { createContext: async (o) => (o?.deviceType === 'npu' ? Promise.reject(new Error('NotSupportedError')) : {}) } }),
      'npu',
    );
    expect(noNpu.webnn.available).toBe(false);
    expect(noNpu.webnn.reason).toMatch(/createContext\(\{ deviceType: 'npu' \}\) failed: NotSupportedError/);
  });

  it('`auto` with node and web registered picks node (priority 100 over 50); web is chosen by name', async () => {
    const weft = createWeft({ plugins: [webBackend({ numThreads: 1 }), nodeBackend({ defaults: { intraOpNumThreads: 1 } })] });
    const auto = await weft.load(tinyModel);
    expect(auto.backend).toBe('node');
    const web = await weft.load(tinyModel, { backend: 'web' });
    expect(web.backend).toBe('web');
    await weft.dispose();
  });

  it('refuses a second, different wasm thread count once onnxruntime-web has started (it would be ignored)', async () => {
    const path = `${tinyModel}/onnx/model.onnx`;
    const first = await new WebBackendAdapter({ numThreads: 1 }).createSession({ kind: 'path', path });
    await expect(new WebBackendAdapter({ numThreads: 2 }).createSession({ kind: 'path', path })).rejects.toMatchObject({
      code: 'invalid-options',
      option: 'numThreads',
    });
    const same = await new WebBackendAdapter({ numThreads: 1 }).createSession({ kind: 'path', path });
    await Promise.all([first.release(), same.release()]);
  });
});
