import { createServer, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidOptionsError, ModelLoadError, RuntimeDisposedError } from '../src/index.js';
import { runtime } from './helpers.js';

let server: Server | undefined;
const held: ServerResponse[] = [];

/** A server that takes every request and never answers; its URL. */
async function silentServer(): Promise<string> {
  server = createServer((_req, res) => void held.push(res));
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
        `Fetching ${url}config.json took longer than fetchTimeoutMs (150 ms); check that the server answers, or raise fetchTimeoutMs for a slow one.`,
      );
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      await weft.dispose();
    }
  }, 3000);

  it('end at once when the runtime is disposed mid-fetch', async () => {
    const url = await silentServer();
    const weft = runtime();
    const load = weft.load(url).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 100));
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
