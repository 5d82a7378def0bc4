import { describe, expect, it } from 'vitest';
import { webBackend } from '@weft/backend-web';
import { createWeft, ModelLoadError } from '@weft/core';
import { serveFolder } from '../../../core/test/serve-folder.js';
import { NpuBackendAdapter, defaultSessionFactory, npuBackend } from '../src/index.js';
import { FACTS, tinyModel } from './helpers.js';

const tinyExternal = tinyModel.replace(/tiny$/, 'tiny-external');

describe('npu: graphs whose tensors are in external data files, fetched as bytes', () => {
  it('declares externalDataFromBytes from the chain it would try: false when every provider opens through onnxruntime-node', async () => {
    expect(new NpuBackendAdapter({ facts: FACTS.windowsArmQnn }).externalDataFromBytes).toBe(false);
    expect(new NpuBackendAdapter({ facts: FACTS.macArm }).externalDataFromBytes).toBe(false);
    // onnxruntime-web (webnn, wasm) takes them.
    expect(new NpuBackendAdapter({ facts: FACTS.browserNpu }).externalDataFromBytes).toBe(true);
    expect(new NpuBackendAdapter({ facts: FACTS.browserNoWebNn }).externalDataFromBytes).toBe(true);
    expect(new NpuBackendAdapter({ facts: FACTS.windowsArmQnn, providers: ['qnn', 'wasm'] }).externalDataFromBytes).toBe(true);
    expect(new NpuBackendAdapter({ facts: FACTS.windowsArmQnn, defaults: { executionProviders: ['wasm'] } }).externalDataFromBytes).toBe(true);
    // A session factory of one's own may take them.
    expect(new NpuBackendAdapter({ facts: FACTS.windowsArmQnn, sessionFactory: defaultSessionFactory }).externalDataFromBytes).toBe(true);

    // Detected facts: unknown (true, as if undeclared) until the probe has learnt them; in Node no chain has onnxruntime-web.
    const detected = new NpuBackendAdapter();
    expect(detected.externalDataFromBytes).toBe(true);
    await detected.probe();
    expect(detected.externalDataFromBytes).toBe(false);
    const asked = new NpuBackendAdapter({ facts: async () => FACTS.macArm });
    await asked.platformFacts();
    expect(asked.externalDataFromBytes).toBe(false);
  });

  it('over HTTP by name: passed over before the data file is downloaded (it was downloaded, then every provider failed)', async () => {
    const server = await serveFolder(tinyExternal);
    const weft = createWeft({ plugins: [npuBackend({ facts: FACTS.windowsArmQnn })] });
    try {
      const error = await weft.load(server.url, { backend: 'npu' }).catch((e: unknown) => e);
      expect(ModelLoadError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(
        /^The npu backend cannot load http:\/\/127\.0\.0\.1:\d+\/onnx\/model\.onnx: the graph keeps its tensors in external data files \(model\.onnx_data\), which this backend reads only from disk, beside a graph file; nothing more was downloaded\./,
      );
      expect(server.requested).toContain('GET /onnx/model.onnx');
      expect(server.requested).not.toContain('GET /onnx/model.onnx_data');
    } finally {
      await weft.dispose();
      server.close();
    }
  });

  it('over HTTP under auto: npu is passed over with the reason, and the web backend loads the model', async () => {
    const server = await serveFolder(tinyExternal);
    const weft = createWeft({ plugins: [npuBackend({ facts: FACTS.windowsArmQnn }), webBackend()] });
    try {
      const model = await weft.load(server.url);
      expect(model.backend).toBe('web');
      expect(model.rejectedBackends).toContainEqual({
        name: 'npu',
        reason: `it reads external data files (model.onnx_data) only from disk, and ${server.url}onnx/model.onnx is fetched as bytes`,
      });
      expect(server.requested.filter((r) => r === 'GET /onnx/model.onnx_data')).toHaveLength(1);
    } finally {
      await weft.dispose();
      server.close();
    }
  });
});
