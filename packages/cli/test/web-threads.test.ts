import { fileURLToPath } from 'node:url';
import type { WeftPlugin } from '@weft/core';
import { wasmThreadsInUse } from '@weft/backend-web';
import { describe, expect, it } from 'vitest';
import { openModel, sessionOptions } from '../src/open-model.js';
import { findWebBackend, webBackendSettings, type WebBackendSettings } from '../src/web-backend.js';

// Its own file: onnxruntime-web fixes its wasm thread count for the rest of the process (vitest
// runs each file in a fresh process here).

const tinyModel = fileURLToPath(new URL('../../core/test/fixtures/tiny', import.meta.url));

describe('--threads on the web backend (review 31)', () => {
  it("becomes webBackend()'s numThreads (onnxruntime-web's wasm ignores intra-op threads); absent stays absent", () => {
    expect(webBackendSettings(sessionOptions(2))).toEqual({ numThreads: 2 });
    expect(webBackendSettings(sessionOptions(0))).toEqual({ numThreads: 0 });
    expect(webBackendSettings(sessionOptions(undefined))).toEqual({});
    // --threads takes up to 1024; the web backend up to 256.
    expect(webBackendSettings(sessionOptions(1024))).toEqual({ numThreads: 256 });
  });

  it('reaches the plugin findWebBackend makes', async () => {
    const given: (WebBackendSettings | undefined)[] = [];
    const plugin = { name: 'fake-web' } as unknown as WeftPlugin;
    const found = await findWebBackend(async () => ({ webBackend: (options?: WebBackendSettings) => (given.push(options), plugin) }), { numThreads: 3 });
    expect(found.plugin).toBe(plugin);
    expect(given).toEqual([{ numThreads: 3 }]);
  });

  it('a --backend web load runs onnxruntime-web on that many wasm threads (before: its default, whatever --threads said)', async () => {
    // onnxruntime-web's default here is min(4, ceil(cores / 2)); 3 differs from it on up to 4 cores and above 6.
    const { model, close } = await openModel(tinyModel, sessionOptions(3), 'web');
    try {
      expect(model.backend).toBe('web');
      expect(wasmThreadsInUse()).toBe(3);
    } finally {
      await close();
    }
  });
});
