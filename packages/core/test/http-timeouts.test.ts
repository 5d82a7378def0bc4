import { readFile } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InvalidOptionsError, ModelLoadError, RuntimeDisposedError } from '../src/index.js';
import { fixture, runtime } from './helpers.js';
import { wrappedNodeBackend } from './wrapped-backend.js';

let server: Server | undefined;
const held: ServerResponse[] = [];

let arrived: () => void = () => {};

/** A server that takes every request and never answers; its URL. */
async function silentServer(): Promise<string> {
  server = createServer((_req, res) => {
    held.push(res);
    arrived();
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/m/`;
}

afterEach(async () => {
  for (const res of held.splice(0)) res.destroy();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

// Each test is bounded well below the suite's 60 s default: a hang is the failure they guard against.
describe('URL folders whose server never answers', () => {
  it('fail after fetchTimeoutMs with a ModelLoadError naming the URL', async () => {
    const url = await silentServer();
    const weft = runtime();
    try {
      const started = Date.now();
      const error = await weft.load(url, { fetchTimeoutMs: 150 }).catch((e: unknown) => e);
      expect(ModelLoadError.isInstance(error)).toBe(true);
      expect((error as Error).message).toBe(
        `Fetching ${url}config.json: the server sent nothing for fetchTimeoutMs (150 ms); check that it answers, or raise fetchTimeoutMs for a slow one.`,
      );
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      await weft.dispose();
    }
  }, 3000);

  it('end at once when the runtime is disposed mid-fetch', async () => {
    const url = await silentServer();
    const weft = runtime();
    const inFlight = new Promise<void>((resolve) => (arrived = resolve));
    const load = weft.load(url).catch((e: unknown) => e);
    await inFlight;
    expect(held.length).toBe(1); // the request is in flight
    const started = Date.now();
    await weft.dispose();
    const error = await load;
    expect(Date.now() - started).toBeLessThan(500);
    expect(RuntimeDisposedError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/disposed while .*\/m\/ was loading/);
  }, 3000);

  it.each([0, 1.5, '100'])('rejects fetchTimeoutMs %j', async (value) => {
    const weft = runtime();
    try {
      const error = await weft.load('http://127.0.0.1:9/m', { fetchTimeoutMs: value as number }).catch((e: unknown) => e);
      expect(InvalidOptionsError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(/^fetchTimeoutMs must be a whole number of milliseconds from 1 to 2147483647/);
    } finally {
      await weft.dispose();
    }
  });
});

/**
 * Serves the tiny fixture model; `drip` files go out in `chunks` pieces `gapMs` apart, and
 * `stall` files send their headers and a first piece, then nothing. Returns the folder's URL and
 * the responses whose connection the client closed.
 */
async function servingServer(plan: { drip?: string; chunks?: number; gapMs?: number; stall?: string }): Promise<{ url: string; closed: Set<string> }> {
  // A dripped file's headers, too, wait one gap: the answer and each chunk each get a window.
  const closed = new Set<string>();
  server = createServer((req, res) => {
    const file = new URL(req.url ?? '/', 'http://x').pathname.slice(1);
    readFile(join(fixture('tiny'), file)).then(
      async (body) => {
        if (file === plan.drip && req.method === 'GET') await new Promise((resolve) => setTimeout(resolve, plan.gapMs ?? 0));
        res.writeHead(200, { 'content-length': body.byteLength });
        if (req.method === 'HEAD') return void res.end();
        res.on('close', () => closed.add(file));
        if (file === plan.stall) {
          held.push(res);
          return void res.write(body.subarray(0, 16));
        }
        if (file !== plan.drip) return void res.end(body);
        res.flushHeaders(); // the answer goes out now, not with the first piece
        const pieces = plan.chunks ?? 4;
        for (let i = 0; i < pieces; i++) {
          await new Promise((resolve) => setTimeout(resolve, plan.gapMs ?? 0));
          res.write(body.subarray(Math.floor((i * body.length) / pieces), Math.floor(((i + 1) * body.length) / pieces)));
        }
        res.end();
      },
      () => {
        res.writeHead(404);
        res.end();
      },
    );
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, closed };
}

describe('URL folders whose server is slow', () => {
  it('wait as long as data keeps arriving: fetchTimeoutMs bounds the silence, not the download', async () => {
    // config.json answered after 200 ms, then in 4 pieces 200 ms apart: 1 s in all, and any two
    // consecutive gaps (the answer and the first piece included) add up to more than the 350 ms
    // limit, while each alone leaves it 150 ms to spare.
    const { url } = await servingServer({ drip: 'config.json', chunks: 4, gapMs: 200 });
    const weft = runtime();
    try {
      const model = await weft.load(url, { fetchTimeoutMs: 350 });
      expect(model.config.vocabSize).toBeGreaterThan(0);
    } finally {
      await weft.dispose();
    }
  }, 8000);

  it('fail when a body stops arriving for fetchTimeoutMs', async () => {
    const { url } = await servingServer({ stall: 'tokenizer.json' });
    const weft = runtime();
    try {
      const error = await weft.load(url, { fetchTimeoutMs: 150 }).catch((e: unknown) => e);
      expect(ModelLoadError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(/^Fetching .*tokenizer\.json: the server sent nothing for fetchTimeoutMs \(150 ms\)/);
    } finally {
      await weft.dispose();
    }
  }, 3000);

  it('stop downloading the graph when the load fails, without waiting for the runtime to be disposed', async () => {
    // The graph stalls mid-body; the load gives up at sessionTimeoutMs and must close the request.
    const { url, closed } = await servingServer({ stall: 'onnx/model.onnx' });
    const weft = runtime();
    try {
      const error = await weft.load(url, { sessionTimeoutMs: 300, fetchTimeoutMs: 60_000 }).catch((e: unknown) => e);
      expect(ModelLoadError.isInstance(error)).toBe(true);
      for (let i = 0; i < 50 && !closed.has('onnx/model.onnx'); i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(closed.has('onnx/model.onnx')).toBe(true);
    } finally {
      await weft.dispose();
    }
  }, 5000);
});

describe('a server that cannot be reached', () => {
  it('says why, not only "fetch failed"', async () => {
    // A port nothing listens on: one a server had, closed again.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    const weft = runtime();
    try {
      const error = await weft.load(`http://127.0.0.1:${port}/m/`).catch((e: unknown) => e);
      expect(ModelLoadError.isInstance(error)).toBe(true);
      expect((error as Error).message).toBe(`Cannot fetch http://127.0.0.1:${port}/m/config.json: fetch failed (connect ECONNREFUSED 127.0.0.1:${port})`);
    } finally {
      await weft.dispose();
    }
  });
});

describe('a load with a signal', () => {
  it('stops at once when the signal aborts mid-fetch, closing the request; the runtime loads on', async () => {
    const url = await silentServer();
    const weft = runtime();
    try {
      const inFlight = new Promise<void>((resolve) => (arrived = resolve));
      const controller = new AbortController();
      const load = weft.load(url, { signal: controller.signal }).catch((e: unknown) => e);
      await inFlight;
      const closed = new Promise<void>((resolve) => held[0]!.on('close', () => resolve()));
      const started = Date.now();
      const reason = new Error('the user left the page');
      controller.abort(reason);
      expect(await load).toBe(reason);
      expect(Date.now() - started).toBeLessThan(500);
      await closed; // the download was aborted, not left running
      // Neither the runtime nor later loads are affected.
      const model = await weft.load(fixture('tiny'), { signal: new AbortController().signal });
      expect(model.layout.numLayers).toBeGreaterThan(0);
    } finally {
      await weft.dispose();
    }
  }, 3000);

  it('releases a session that was still opening when the signal aborted, once it arrives', async () => {
    let open: () => void = () => {};
    let opening: () => void = () => {};
    const started = new Promise<void>((resolve) => (opening = resolve));
    const released: unknown[] = [];
    const weft = runtime([
      wrappedNodeBackend({
        name: 'slow',
        priority: 200,
        beforeCreateSession: () => {
          opening();
          return new Promise<void>((resolve) => (open = resolve));
        },
        onRelease: (session) => released.push(session),
      }),
    ]);
    try {
      const controller = new AbortController();
      const load = weft.load(fixture('tiny'), { signal: controller.signal }).catch((e: unknown) => e);
      await started;
      controller.abort();
      expect((await load as Error).name).toBe('AbortError');
      expect(released).toHaveLength(0);
      open(); // the session arrives after the load gave up on it
      await vi.waitFor(() => expect(released).toHaveLength(1));
    } finally {
      await weft.dispose();
    }
  });

  it('rejects at once with an already aborted signal (an AbortError when it gives no reason), fetching nothing', async () => {
    const url = await silentServer();
    const weft = runtime();
    try {
      const error = await weft.load(url, { signal: AbortSignal.abort() }).catch((e: unknown) => e);
      expect((error as Error).name).toBe('AbortError');
      expect(held.length).toBe(0);
    } finally {
      await weft.dispose();
    }
  });

  it('has no effect once the load has resolved', async () => {
    const weft = runtime();
    try {
      const controller = new AbortController();
      const model = await weft.load(fixture('tiny'), { signal: controller.signal });
      controller.abort();
      expect((await model.text({ prompt: 'Once', maxTokens: 3 })).length).toBeGreaterThan(0);
    } finally {
      await weft.dispose();
    }
  });

  it.each([{}, 'abort', null])('refuses signal %j with an InvalidOptionsError', async (value) => {
    const weft = runtime();
    try {
      const error = await weft.load(fixture('tiny'), { signal: value as unknown as AbortSignal }).catch((e: unknown) => e);
      expect(InvalidOptionsError.isInstance(error)).toBe(true);
      expect((error as Error).message).toBe('signal must be an AbortSignal (e.g. new AbortController().signal).');
    } finally {
      await weft.dispose();
    }
  });
});
