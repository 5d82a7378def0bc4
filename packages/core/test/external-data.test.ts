import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { NodeBackendAdapter, nodeBackend } from '@weft/backend-node';
import { BackendError, checkExternalDataLocation, createWeft, definePlugin, InvalidOptionsError, ModelLoadError, onnxExternalDataFiles } from '../src/index.js';
import type { BackendAdapter, ModelSource } from '../src/index.js';
import { onnxExternalDataExtents } from '../src/model/onnx-external-data.js';
import { collect, done, fixture, runtime, storyModel } from './helpers.js';
import { recorderPlugin } from './recording-backend.js';
import { endlessBody, serveFolder } from './serve-folder.js';

const graphOf = (name: string) => readFile(join(fixture(name), 'onnx/model.onnx'));
const request = { prompt: 'Once upon a time', maxTokens: 12 };
const runtimes: ReturnType<typeof runtime>[] = [];
afterAll(() => Promise.all(runtimes.map((w) => w.dispose())));

/**
 * A runtime whose backend takes external data as bytes (as the web backend does), records the
 * source it gets and fails; with `withNode`, the node backend comes first under `auto`.
 */
function recordingRuntime(seen: ModelSource[] = [], { withNode = false } = {}) {
  const plugin = recorderPlugin(seen);
  const weft = createWeft({ plugins: withNode ? [nodeBackend(), plugin] : [plugin] });
  runtimes.push(weft);
  return weft;
}

async function tokens(dir: string, options = {}): Promise<number[]> {
  const weft = runtime();
  runtimes.push(weft);
  const model = await weft.load(dir, options);
  return (await collect(model.generate(request))).flatMap((e) => (e.type === 'token' ? [e.id] : []));
}

describe('graphs with external data files', () => {
  it('finds the external data files a graph names, and none in graphs with inline weights', async () => {
    expect(onnxExternalDataFiles(await graphOf('tiny-external'))).toEqual(['model.onnx_data']);
    expect(onnxExternalDataFiles(await graphOf('tiny'))).toEqual([]);
    expect(onnxExternalDataFiles(await readFile(join(storyModel, 'onnx/model.onnx')))).toEqual([]);
    expect(onnxExternalDataFiles(await readFile(join(fixture('tiny-merged'), 'onnx/decoder_model_merged.onnx')))).toEqual([]);
  });

  it('knows how many bytes of each data file the graph reads: the whole file, as exported', async () => {
    const { size } = await stat(join(fixture('tiny-external'), 'onnx/model.onnx_data'));
    expect(onnxExternalDataExtents(await graphOf('tiny-external'))).toEqual(new Map([['model.onnx_data', size]]));
  });

  it('never throws on bytes that are not a model (the runtime reports those)', async () => {
    const external = await graphOf('tiny-external');
    for (const bytes of [new Uint8Array(), Uint8Array.from([255, 255, 255, 255]), new TextEncoder().encode('<!doctype html>'), external.subarray(0, external.length - 100)]) {
      expect(onnxExternalDataFiles(bytes)).toEqual([]);
    }
  });

  it('accepts external data names inside the graph\'s folder and refuses any other', () => {
    expect(checkExternalDataLocation('model.onnx_data', 'g.onnx')).toBe('model.onnx_data');
    expect(checkExternalDataLocation('weights/part-1.bin', 'g.onnx')).toBe('weights/part-1.bin');
    for (const hostile of ['../secret', 'a/../../b', '/etc/passwd', 'C:\\\\x', 'http://evil/x', '', './x', 'a//b', 'x\0y', '%2e%2e/x', '.%2E/x', '.\n./x', 'a\t/../b', 'x?y', 'x#y']) {
      expect(() => checkExternalDataLocation(hostile, 'g.onnx'), hostile).toThrow(ModelLoadError);
    }
    expect(() => checkExternalDataLocation('../secret', 'http://x/onnx/model.onnx')).toThrow(
      'http://x/onnx/model.onnx names an external data file at "../secret", outside the graph\'s folder; only files beside the graph (or below it) are read.',
    );
  });

  it('loads a folder on disk whose graph has external data, with the same tokens as the inline graph', async () => {
    expect(await tokens(fixture('tiny-external'))).toEqual(await tokens(fixture('tiny')));
  });

  it('over HTTP: the node backend, which reads external data only from disk, is refused before the data file is downloaded', async () => {
    const server = await serveFolder(fixture('tiny-external'));
    try {
      for (const backend of ['node', 'auto']) {
        server.requested.length = 0;
        const error = await tokens(server.url, { backend }).catch((e: unknown) => e);
        expect(server.requested).toContain('GET /onnx/model.onnx');
        expect(server.requested).not.toContain('GET /onnx/model.onnx_data');
        expect(ModelLoadError.isInstance(error)).toBe(true);
        expect((error as Error).message).toContain(
          `The node backend cannot load ${server.url}onnx/model.onnx: the graph keeps its tensors in external data files (model.onnx_data), which this backend reads only from disk, beside a graph file; nothing more was downloaded. Load the model from a folder on disk, or use a backend that takes them as bytes (the web backend, @weft/backend-web).`,
        );
      }
    } finally {
      server.close();
    }
  });

  it('over HTTP: a backend that takes external data as bytes gets the data file with the graph, each fetched once, after the node backend passed', async () => {
    const server = await serveFolder(fixture('tiny-external'));
    const seen: ModelSource[] = [];
    try {
      const error = await recordingRuntime(seen, { withNode: true }).load(server.url).catch((e: unknown) => e);
      expect(ModelLoadError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(/The node backend cannot load .*nothing more was downloaded.* \| .*this test backend records what it gets/);
      expect(seen).toHaveLength(1);
      const source = seen[0]!;
      expect(source.kind === 'bytes' && source.externalData?.map((f) => [f.path, f.data.byteLength])).toEqual([['model.onnx_data', (await stat(join(fixture('tiny-external'), 'onnx/model.onnx_data'))).size]]);
      expect(server.requested.filter((r) => r.startsWith('GET /onnx/'))).toEqual(['GET /onnx/model.onnx', 'GET /onnx/model.onnx_data']);
    } finally {
      server.close();
    }
  });

  it('over HTTP: a data file that goes on past what the graph reads is cut off there (an endless answer cannot fill the memory)', async () => {
    const server = await serveFolder(fixture('tiny-external'), { respond: endlessBody('/onnx/model.onnx_data') });
    try {
      const error = await recordingRuntime().load(server.url).catch((e: unknown) => e);
      const { size } = await stat(join(fixture('tiny-external'), 'onnx/model.onnx_data'));
      expect(ModelLoadError.isInstance(error)).toBe(true);
      expect((error as Error).message).toBe(
        `${server.url}onnx/model.onnx_data is larger than the ${size} bytes Weft reads for it: the graph's tensors read no further: check that the file belongs to this graph.`,
      );
    } finally {
      server.close();
    }
  });

  it('over HTTP: a missing data file, or one named outside the graph\'s folder, is a ModelLoadError naming it', async () => {
    const graph = await graphOf('tiny-external');
    // The same graph naming "../secret_data1" (as many bytes as "model.onnx_data", so the protobuf stays valid).
    const hostileAs = (name: string) => Buffer.from(Buffer.from(graph).toString('latin1').replace('model.onnx_data', name), 'latin1');
    const names = { hostile: '../secret_data1', encoded: '%2e%2e/secret_d' };
    let mode: 'missing' | 'hostile' | 'encoded' = 'missing';
    const server = await serveFolder(fixture('tiny-external'), {
      respond: ({ path, req, res }) => {
        if (mode === 'missing' && path.endsWith('.onnx_data')) {
          res.writeHead(404);
          res.end();
          return true;
        }
        if (mode !== 'missing' && path.endsWith('model.onnx') && req.method === 'GET') {
          const body = hostileAs(names[mode]);
          res.writeHead(200, { 'content-length': body.byteLength });
          res.end(body);
          return true;
        }
        return false;
      },
    });
    const weft = recordingRuntime();
    try {
      const missing = await weft.load(server.url).catch((e: unknown) => e);
      expect(ModelLoadError.isInstance(missing)).toBe(true);
      expect((missing as Error).message).toMatch(/onnx\/model\.onnx keeps tensors in model\.onnx_data, but http:\/\/127\.0\.0\.1:\d+\/onnx\/model\.onnx_data was not found\./);
      mode = 'hostile';
      const outside = await weft.load(server.url).catch((e: unknown) => e);
      expect(ModelLoadError.isInstance(outside)).toBe(true);
      expect((outside as Error).message).toMatch(/names an external data file at "\.\.\/secret_data1", outside the graph's folder/);
      // Percent-escaped dots, which a URL parser would turn into "..", are refused as well.
      mode = 'encoded';
      const escaped = await weft.load(server.url).catch((e: unknown) => e);
      expect((escaped as Error).message).toMatch(/names an external data file at "%2e%2e\/secret_d", outside the graph's folder/);
      expect(server.requested.some((r) => r.includes('secret'))).toBe(false);
    } finally {
      server.close();
    }
  });

  it('node backend: bytes of a graph with external data are a BackendError, with or without the files', async () => {
    const adapter = new NodeBackendAdapter({ intraOpNumThreads: 1 });
    const bytes = new Uint8Array(await graphOf('tiny-external'));
    const data = new Uint8Array(await readFile(join(fixture('tiny-external'), 'onnx/model.onnx_data')));
    for (const source of [{ kind: 'bytes' as const, bytes }, { kind: 'bytes' as const, bytes, externalData: [{ path: 'model.onnx_data', data }] }]) {
      const error = await adapter.createSession(source).catch((e: unknown) => e);
      expect(BackendError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(/^onnxruntime-node cannot open a graph whose tensors are in external data files \(model\.onnx_data\) from bytes/);
    }
  });

  it('over HTTP with failover: backends that read external data only from disk are no fallbacks, and naming one is refused', async () => {
    const server = await serveFolder(fixture('tiny-external'));
    // A backend that takes external data as bytes: it writes the files out and opens them with onnxruntime-node.
    const dirs: string[] = [];
    const onDisk: BackendAdapter = {
      specificationVersion: 'v1',
      name: 'bytes-to-disk',
      probe: async () => ({ available: true }),
      async createSession(source, options) {
        if (source.kind === 'path') return new NodeBackendAdapter().createSession(source, options);
        const dir = await mkdtemp(join(tmpdir(), 'weft-bytes-'));
        dirs.push(dir);
        await writeFile(join(dir, 'model.onnx'), source.bytes);
        for (const file of source.externalData ?? []) await writeFile(join(dir, file.path), file.data);
        const session = await new NodeBackendAdapter({ intraOpNumThreads: 1 }).createSession({ kind: 'path', path: join(dir, 'model.onnx') }, options);
        const run = session.run.bind(session);
        // Fails its runs on demand, to see where failover would go.
        return Object.assign(session, { run: (...args: Parameters<typeof run>) => (failRuns ? Promise.reject(new Error('this backend broke down')) : run(...args)) });
      },
    };
    let failRuns = false;
    const plugin = definePlugin({ name: 'on-disk', version: '1.0.0', apiVersion: '^0.1.0', setup: (ctx) => ctx.register('backend', { name: 'bytes-to-disk', priority: 300, create: () => onDisk }) });
    const weft = createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: 1 } }), plugin] });
    runtimes.push(weft);
    try {
      const named = await weft.load(server.url, { failover: { backends: ['node'] } }).catch((e: unknown) => e);
      expect(InvalidOptionsError.isInstance(named)).toBe(true);
      expect((named as Error).message).toMatch(/^Failover backend "node" cannot open .*onnx\/model\.onnx: it reads external data files only from disk/);
      const model = await weft.load(server.url, { failover: true });
      expect(model.backend).toBe('bytes-to-disk');
      const ids = done(await collect(model.generate(request))).rows[0]!.ids;
      expect(ids).toEqual(await tokens(fixture('tiny')));
      // With its backend broken, the stream has nowhere to go: node is no fallback for this graph.
      failRuns = true;
      const error = await collect(model.generate(request)).catch((e: unknown) => e);
      expect((error as Error).message).toBe('No backend left to continue on (bytes-to-disk: failed during the run).');
    } finally {
      server.close();
      await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    }
  });

  it('as in a browser: a folder URL relative to the page loads a graph with external data (it threw a TypeError)', async () => {
    const server = await serveFolder(fixture('tiny-external'));
    const seen: ModelSource[] = [];
    const fetchInNode = globalThis.fetch;
    const getBuiltinModule = process.getBuiltinModule;
    // A page at the server's root: relative URLs resolve against it, and there is no node:fs.
    vi.stubGlobal('location', { href: `${server.url}page.html` });
    vi.stubGlobal('fetch', (url: string, init?: RequestInit) => fetchInNode(new URL(url, `${server.url}page.html`), init));
    process.getBuiltinModule = ((id: string) => (id === 'node:fs/promises' ? undefined : getBuiltinModule(id))) as typeof process.getBuiltinModule;
    try {
      await recordingRuntime(seen).load('/').catch(() => undefined);
      expect(seen).toHaveLength(1);
      expect(seen[0]!.kind === 'bytes' && seen[0]!.externalData?.map((f) => f.path)).toEqual(['model.onnx_data']);
    } finally {
      process.getBuiltinModule = getBuiltinModule;
      vi.unstubAllGlobals();
      server.close();
    }
  });
});
