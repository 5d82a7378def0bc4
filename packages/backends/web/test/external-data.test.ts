import * as fsPromises from 'node:fs/promises';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '@weft/backend-node';
import { createWeft, ModelLoadError, type Weft } from '@weft/core';
import { WebBackendAdapter, webBackend } from '../src/index.js';
import { readWholeFile } from '../src/read-model.js';
import { serveFolder } from '../../../core/test/serve-folder.js';
import { collect, tinyModel } from './helpers.js';

const externalModel = join(tinyModel, '../tiny-external');
const request = { prompt: 'Once upon a time', maxTokens: 12 };
const runtimes: Weft[] = [];
afterAll(() => Promise.all(runtimes.map((w) => w.dispose())));

function runtime(): Weft {
  const weft = createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: 1 } }), webBackend({ numThreads: 1 })] });
  runtimes.push(weft);
  return weft;
}

async function tokens(weft: Weft, dir: string, backend: string): Promise<{ backend: string; ids: number[] }> {
  const model = await weft.load(dir, { backend });
  const ids = (await collect(model.generate(request))).flatMap((e) => (e.type === 'token' ? [e.id] : []));
  return { backend: model.backend, ids };
}

describe('web backend: graphs with external data files', () => {
  it('reads the data file beside a graph on disk, with the same tokens as the inline graph', async () => {
    const weft = runtime();
    const expected = (await tokens(weft, tinyModel, 'node')).ids;
    expect(await tokens(weft, externalModel, 'web')).toEqual({ backend: 'web', ids: expected });
  });

  it("takes a URL folder's graph and data file as bytes; under auto the node backend is passed over, saying why", async () => {
    const server = await serveFolder(externalModel);
    try {
      const weft = runtime();
      const expected = (await tokens(weft, tinyModel, 'node')).ids;
      const model = await weft.load(server.url, { backend: 'auto' });
      expect(model.backend).toBe('web');
      expect(model.rejectedBackends).toEqual([{ name: 'node', reason: expect.stringMatching(/^it reads external data files \(model\.onnx_data\) only from disk, and http:\/\/.*\/onnx\/model\.onnx is fetched as bytes$/) }]);
      expect((await collect(model.generate(request))).flatMap((e) => (e.type === 'token' ? [e.id] : []))).toEqual(expected);
    } finally {
      server.close();
    }
  });

  it('needs the data files with a bytes source, and says which are missing', async () => {
    const adapter = new WebBackendAdapter({ numThreads: 1 });
    const bytes = new Uint8Array(await readFile(join(externalModel, 'onnx/model.onnx')));
    const error = await adapter.createSession({ kind: 'bytes', bytes }).catch((e: unknown) => e);
    expect(ModelLoadError.isInstance(error)).toBe(true);
    expect((error as Error).message).toBe("The graph's tensors are in external data files (model.onnx_data) that did not come with its bytes: pass them as the source's externalData.");
    const data = new Uint8Array(await readFile(join(externalModel, 'onnx/model.onnx_data')));
    const session = await adapter.createSession({ kind: 'bytes', bytes, externalData: [{ path: 'model.onnx_data', data }] });
    expect(session.outputNames).toContain('logits');
    await session.release();
  });

  it('reads a file into one array of its size, a chunk at a time (files over 2 GiB, which readFile refuses, included)', async () => {
    const path = join(externalModel, 'onnx/model.onnx_data');
    const expected = new Uint8Array(await readFile(path));
    for (const chunk of [7, 4096, 1 << 26]) {
      const bytes = await readWholeFile(fsPromises, path, chunk);
      expect(bytes).toEqual(expected);
      expect(bytes.buffer.byteLength).toBe(expected.byteLength);
    }
  });
});
