import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveFolder } from '../vite.config.js';

type Middleware = (req: { url: string; method: string }, res: PassThrough & { statusCode?: number; setHeader(k: string, v: unknown): void }, next: () => void) => void;
type Hooks = { configureServer(server: unknown): void; configurePreviewServer(server: unknown): void };

const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
let base: string;
let serve: Middleware;
let servePreview: Middleware;
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'weft-serve-folder-'));
  await mkdir(join(base, 'story'));
  await mkdir(join(base, 'story-secret'));
  await writeFile(join(base, 'story', 'config.json'), '{"ok":true}');
  await writeFile(join(base, 'story-secret', 'key.txt'), 'secret');
  const plugin = serveFolder('/models/story', join(base, 'story')) as Hooks;
  plugin.configureServer({ config: { server: { headers: isolation } }, middlewares: { use: (_prefix: string, fn: Middleware) => (serve = fn) } });
  plugin.configurePreviewServer({ config: { preview: { headers: { 'X-Preview': 'yes' } } }, middlewares: { use: (_prefix: string, fn: Middleware) => (servePreview = fn) } });
});
afterAll(() => rm(base, { recursive: true, force: true }));

/** What the middleware does with `url`: the body it served, its status, or that it passed the request on. */
function request(url: string, on = serve): Promise<{ next: boolean; status?: number; body?: string; headers?: Record<string, unknown> }> {
  return new Promise((resolve) => {
    const headers: Record<string, unknown> = {};
    const res = Object.assign(new PassThrough(), { statusCode: 200, setHeader: (k: string, v: unknown) => void (headers[k.toLowerCase()] = v) });
    let body = '';
    res.on('data', (chunk: Buffer) => (body += chunk.toString()));
    res.on('end', () => resolve({ next: false, status: res.statusCode, body, headers }));
    on({ url, method: 'GET' }, res, () => resolve({ next: true }));
  });
}

describe("the browser example's dev and preview servers", () => {
  it('serve files of the folder', async () => {
    expect(await request('/config.json')).toMatchObject({ next: false, status: 200, body: '{"ok":true}' });
    expect((await request('/missing.json')).status).toBe(404);
  });

  it("send the server's headers (COOP/COEP), which Vite adds only to what it serves itself", async () => {
    // Without Cross-Origin-Embedder-Policy the browser refused onnxruntime-web's thread worker
    // (/ort/*.mjs) on the cross-origin isolated page, and a numThreads: 2 load never ended.
    expect((await request('/config.json')).headers).toEqual({
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
      'content-type': 'application/octet-stream',
      'content-length': 11,
    });
    expect((await request('/config.json', servePreview)).headers).toMatchObject({ 'x-preview': 'yes' });
  });

  it('never serve a sibling folder whose name starts with the same letters', async () => {
    expect(await request('/../story-secret/key.txt')).toEqual({ next: true });
    expect(await request('/..%2fstory-secret/key.txt')).toEqual({ next: true });
  });
});
