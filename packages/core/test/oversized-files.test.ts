import { cp, mkdtemp, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelLoadError } from '../src/index.js';
import { MAX_TEXT_FILE_BYTES } from '../src/model/model-folder.js';
import { readResponseBytes } from '../src/model/read-response-bytes.js';
import { fixture, runtime } from './helpers.js';
import { endlessBody, serveFolder } from './serve-folder.js';

/** A body of `chunk`-byte pieces that never ends unless cancelled; counts what it sent. */
function endless(chunk: number) {
  const state = { sent: 0, cancelled: false };
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(new Uint8Array(chunk));
      state.sent += chunk;
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return { body, state };
}

const weft = runtime();
afterAll(() => weft.dispose());

describe('files larger than Weft reads', () => {
  it('refuses an announced body past maxBytes before reading it, and cancels it', async () => {
    const { body, state } = endless(1000);
    const error = await readResponseBytes(new Response(body, { headers: { 'content-length': String(5 * 2 ** 20) } }), 'http://x/t.json', () => {}, { maxBytes: 2 ** 20, advice: 'too big' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect((error as Error).message).toBe('http://x/t.json has 5 MiB, more than the 1 MiB Weft reads for it: too big.');
    expect(state.cancelled).toBe(true);
    expect(state.sent).toBeLessThan(10_000);
  });

  it('stops an endless body without a length at maxBytes, and cancels it', async () => {
    const { body, state } = endless(4096);
    const error = await readResponseBytes(new Response(body), 'http://x/t.json', () => {}, { maxBytes: 100_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect((error as Error).message).toBe('http://x/t.json is larger than the 100000 bytes Weft reads for it.');
    expect(state.cancelled).toBe(true);
    expect(state.sent).toBeLessThan(200_000);
  });

  it('reads a body of exactly maxBytes, announced or not', async () => {
    const bytes = Uint8Array.from({ length: 3000 }, (_, i) => i % 256);
    for (const headers of [{ 'content-length': '3000' }, {}]) {
      expect(await readResponseBytes(new Response(bytes, { headers }), 'http://x/a', () => {}, { maxBytes: 3000 })).toEqual(bytes);
    }
  });

  it('over HTTP: a server that streams config.json without end fails the load at 256 MiB', async () => {
    const server = await serveFolder(fixture('tiny'), { respond: endlessBody('/config.json', 1 << 20, { 'content-type': 'application/json' }) });
    try {
      const error = await weft.load(server.url).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelLoadError);
      expect((error as Error).message).toBe(
        `${server.url}config.json is larger than the 256 MiB Weft reads for it: config and tokenizer files are far smaller: check that the folder holds the right file.`,
      );
    } finally {
      server.close();
    }
  }, 30_000);

  it('over HTTP: an announced 3 GiB graph or 300 MiB tokenizer is refused without downloading it', async () => {
    for (const [file, size, advice] of [
      ['/onnx/model.onnx', 3 * 2 ** 30, "an ONNX graph file cannot be larger (protobuf's limit); bigger models keep their weights in external data files (model.onnx_data)"],
      ['/tokenizer.json', 300 * 2 ** 20, 'config and tokenizer files are far smaller: check that the folder holds the right file'],
    ] as const) {
      let sent = 0;
      const server = await serveFolder(fixture('tiny'), {
        respond: ({ path, req, res }) => {
          if (path !== file || req.method !== 'GET') return false;
          res.writeHead(200, { 'content-length': size });
          const piece = Buffer.alloc(1 << 16);
          const more = (): void => {
            while (!res.destroyed && sent < size && res.write(piece)) sent += piece.length;
            if (!res.destroyed && sent < size) res.once('drain', more);
          };
          more();
          return true;
        },
      });
      try {
        const error = await weft.load(server.url).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ModelLoadError);
        expect((error as Error).message).toBe(`${server.url}${file.slice(1)} has ${size / 2 ** 20} MiB, more than the ${file.endsWith('.onnx') ? 2048 : 256} MiB Weft reads for it: ${advice}.`);
        // The socket was closed after the first few buffers, not read to the end.
        expect(sent).toBeLessThan(64 * 2 ** 20);
      } finally {
        server.close();
      }
    }
  });

  it('on disk: a tokenizer.json over 256 MiB is refused before it is read', async () => {
    const root = await mkdtemp(join(tmpdir(), 'weft-oversized-'));
    try {
      await cp(fixture('tiny'), root, { recursive: true });
      await truncate(join(root, 'tokenizer.json'), MAX_TEXT_FILE_BYTES + 1); // sparse: no disk used
      const error = await weft.load(root).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelLoadError);
      expect((error as Error).message).toBe(
        `${join(root, 'tokenizer.json')} has 268435457 bytes, more than the 256 MiB Weft reads for it: config and tokenizer files are far smaller: check that the folder holds the right file.`,
      );
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
