/**
 * Bounds on what a model folder served over HTTP can make a load do: external data is fetched up
 * to a fixed total (a tensor entry without a `length` reads "the rest of the file", which an
 * endless answer never ends), and a small file (config.json, tokenizer files, chat template)
 * must arrive within 10 × fetchTimeoutMs in all, however steadily a server trickles it.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ModelLoadError } from '../src/index.js';
import { HttpModelFolder } from '../src/model/http-model-folder.js';
import { fixture, runtime } from './helpers.js';
import { serveFolder, type FileResponder } from './serve-folder.js';

const servers: { close(): void }[] = [];
const timers: ReturnType<typeof setInterval>[] = [];
afterEach(() => {
  for (const t of timers.splice(0)) clearInterval(t);
  for (const s of servers.splice(0)) s.close();
});

const temp = await mkdtemp(join(tmpdir(), 'weft-http-limits-'));
afterAll(() => rm(temp, { recursive: true, force: true }));

/** Protobuf's varint. */
function varint(n: number): number[] {
  const out: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n % 128) | 0x80);
  out.push(n);
  return out;
}
/** A length-delimited protobuf field. */
function field(num: number, payload: Uint8Array | string): Uint8Array {
  const body = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
  return Uint8Array.from([...varint(num * 8 + 2), ...varint(body.length), ...body]);
}
const join8 = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));
/** An ONNX model whose initializers read from external data files: `[location, length or undefined]` each. */
function graphReading(tensors: [string, number | undefined][]): Uint8Array {
  const entry = (key: string, value: string): Uint8Array => field(13, join8(field(1, key), field(2, value)));
  const initializers = tensors.map(([location, length]) =>
    field(5, join8(entry('location', location), ...(length === undefined ? [] : [entry('offset', '0'), entry('length', String(length))]))),
  );
  return field(7, join8(...initializers));
}

/** A folder holding only `onnx/model.onnx` (the graph) and the given files beside it (`respond` answers only for files it has), served. */
async function servedGraph(name: string, graph: Uint8Array, files: Record<string, number>, respond?: FileResponder) {
  const root = join(temp, name);
  await mkdir(join(root, 'onnx'), { recursive: true });
  await writeFile(join(root, 'onnx/model.onnx'), graph);
  for (const [file, size] of Object.entries(files)) await writeFile(join(root, 'onnx', file), new Uint8Array(size));
  const server = await serveFolder(root, respond ? { respond } : {});
  servers.push(server);
  return server;
}

describe('external data over HTTP', () => {
  it('stops an endless file whose tensors give no length at the bound on all external data', async () => {
    // 64 KiB every 10 ms: without the bound, the download would go on for ever.
    const piece = Buffer.alloc(1 << 16);
    const server = await servedGraph('endless', graphReading([['model.onnx_data', undefined]]), { 'model.onnx_data': 1 }, ({ path, req, res }) => {
      if (path !== '/onnx/model.onnx_data' || req.method !== 'GET') return false;
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      timers.push(setInterval(() => res.write(piece), 10));
      return true;
    });
    const abort = new AbortController();
    const folder = new HttpModelFolder(server.url, { signal: abort.signal, maxExternalDataBytes: 4 << 16 });
    const stop = setTimeout(() => abort.abort(new Error('still downloading after 3 s')), 3000);
    try {
      const error = await folder.source('onnx/model.onnx').catch((e: unknown) => e);
      expect(ModelLoadError.isInstance(error), String(error)).toBe(true);
      expect((error as Error).message).toBe(
        `${server.url}onnx/model.onnx_data is larger than the 262144 bytes Weft reads for it: Weft fetches at most 262144 bytes of external data over HTTP for one graph, all its files together; load a model this large from a folder on disk (its backend reads external data from there itself).`,
      );
    } finally {
      clearTimeout(stop);
    }
  }, 5000);

  it('refuses an announced length past the bound before downloading it (default bound: 4 GiB)', async () => {
    const server = await servedGraph('announced', graphReading([['model.onnx_data', undefined]]), { 'model.onnx_data': 1 }, ({ path, req, res }) => {
      if (path !== '/onnx/model.onnx_data') return false;
      res.writeHead(200, { 'content-length': String(5 * 2 ** 30) });
      if (req.method === 'GET') res.write(Buffer.alloc(16)); // then silence
      return true;
    });
    const error = await new HttpModelFolder(server.url, { fetchTimeoutMs: 2000 }).source('onnx/model.onnx').catch((e: unknown) => e);
    expect(ModelLoadError.isInstance(error), String(error)).toBe(true);
    expect((error as Error).message).toMatch(/onnx\/model\.onnx_data has 5120 MiB, more than the 4096 MiB Weft reads for it: Weft fetches at most 4096 MiB of external data over HTTP for one graph/);
  }, 5000);

  it('counts all the graph\'s files together, refusing a length past what is left before asking for it', async () => {
    const graph = graphReading([['a.bin', 600], ['b.bin', 600]]);
    const server = await servedGraph('two-files', graph, { 'a.bin': 600, 'b.bin': 600 });
    const error = await new HttpModelFolder(server.url, { maxExternalDataBytes: 1000 }).source('onnx/model.onnx').catch((e: unknown) => e);
    expect(ModelLoadError.isInstance(error), String(error)).toBe(true);
    expect((error as Error).message).toBe(
      `${server.url}onnx/model.onnx reads 600 bytes from ${server.url}onnx/b.bin, but Weft fetches at most 1000 bytes of external data over HTTP for one graph, all its files together (400 bytes left after its other files): load a model this large from a folder on disk (its backend reads external data from there itself).`,
    );
    expect(server.requested).not.toContain('GET /onnx/b.bin');
    // Within the bound, both arrive.
    const source = await new HttpModelFolder(server.url, { maxExternalDataBytes: 1200 }).source('onnx/model.onnx');
    expect(source.kind === 'bytes' && source.externalData?.map((f) => [f.path, f.data.byteLength])).toEqual([['a.bin', 600], ['b.bin', 600]]);
  });
});

describe('small files over HTTP', () => {
  it('fail a load when config.json trickles in for longer than 10 × fetchTimeoutMs', async () => {
    const server = await serveFolder(fixture('tiny'), {
      respond: ({ path, req, res }) => {
        if (path !== '/config.json' || req.method !== 'GET') return false;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"model_type":"llama"');
        timers.push(setInterval(() => res.write(' '), 20)); // never silent for fetchTimeoutMs
        return true;
      },
    });
    servers.push(server);
    const weft = runtime();
    try {
      const started = Date.now();
      const load = weft.load(server.url, { fetchTimeoutMs: 100 }).catch((e: unknown) => e);
      const error = await Promise.race([load, new Promise((resolve) => setTimeout(() => resolve('still loading after 4 s'), 4000))]);
      expect(ModelLoadError.isInstance(error), String(error)).toBe(true);
      expect((error as Error).message).toBe(
        `Fetching ${server.url}config.json: the file did not arrive within 1000 ms (10 × fetchTimeoutMs), though the server kept sending; check the server, or raise fetchTimeoutMs for a slow one.`,
      );
      expect(Date.now() - started).toBeLessThan(2500);
    } finally {
      await weft.dispose();
    }
  }, 8000);
});
