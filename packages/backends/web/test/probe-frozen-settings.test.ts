import { describe, expect, it } from 'vitest';
import { AdapterResolutionError, createWeft } from '@weft/core';
import { nodeBackend } from '@weft/backend-node';
import { WebBackendAdapter, webBackend } from '../src/index.js';
import { tinyModel } from './helpers.js';

// Its own file: onnxruntime-web's settings are fixed for the rest of the process by the first
// session (vitest runs each file in a fresh process here).

const THREADS = 'onnxruntime-web is already running with numThreads = 1 in this process; it cannot switch to 2. Give every web backend the same numThreads.';
const PATHS = 'onnxruntime-web already loaded its wasm files from other wasmPaths in this process; give every web backend the same wasmPaths.';

describe('a web backend whose settings conflict with those onnxruntime-web runs with (review 31)', () => {
  it('is unavailable in probe(), so `auto` moves on to another backend, and by name fails with the reason', async () => {
    const session = await new WebBackendAdapter({ numThreads: 1 }).createSession({ kind: 'path', path: `${tinyModel}/onnx/model.onnx` });
    try {
      expect(await new WebBackendAdapter({ numThreads: 2 }).probe()).toEqual({ available: false, reason: THREADS });
      expect(await new WebBackendAdapter({ wasmPaths: '/elsewhere/ort/' }).probe()).toEqual({ available: false, reason: PATHS });
      // The same settings (or none) stay available.
      expect(await new WebBackendAdapter({ numThreads: 1 }).probe()).toMatchObject({ available: true });

      // Before: probe() said available, then the load failed and auto did not try node.
      const weft = createWeft({ plugins: [nodeBackend({ priority: 10, defaults: { intraOpNumThreads: 1 } }), webBackend({ numThreads: 2, priority: 200 })] });
      try {
        const model = await weft.load(tinyModel);
        expect(model.backend).toBe('node');
        expect(model.rejectedBackends).toEqual([{ name: 'web', reason: `unavailable: ${THREADS}` }]);
        const byName = await weft.load(tinyModel, { backend: 'web' }).catch((e: unknown) => e);
        expect(AdapterResolutionError.isInstance(byName)).toBe(true);
        expect((byName as Error).message).toContain(`web (unavailable: ${THREADS})`);
      } finally {
        await weft.dispose();
      }
    } finally {
      await session.release();
    }
  });
});
