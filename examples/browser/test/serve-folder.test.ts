import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveFolder } from '../vite.config.js';

type Middleware = (req: { url: string; method: string }, res: PassThrough & { statusCode?: number; setHeader(k: string, v: unknown): void }, next: () => void) => void;

let base: string;
let serve: Middleware;
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'weft-serve-folder-'));
  await mkdir(join(base, 'story'));
  await mkdir(join(base, 'story-secret'));
  await writeFile(join(base, 'story', 'config.json'), '{"ok":true}');
  await writeFile(join(base, 'story-secret', 'key.txt'), 'secret');
  const plugin = serveFolder('/models/story', join(base, 'story')) as { configureServer(server: unknown): void };
  plugin.configureServer({ middlewares: { use: (_prefix: string, fn: Middleware) => (serve = fn) } });
});
afterAll(() => rm(base, { recursive: true, force: true }));

/** What the middleware does with `url`: the body it served, its status, or that it passed the request on. */
function request(url: string): Promise<{ next: boolean; status?: number; body?: string }> {
  return new Promise((resolve) => {
    const res = Object.assign(new PassThrough(), { statusCode: 200, setHeader: () => {} });
    let body = '';
    res.on('data', (chunk: Buffer) => (body += chunk.toString()));
    res.on('end', () => resolve({ next: false, status: res.statusCode, body }));
    serve({ url, method: 'GET' }, res, () => resolve({ next: true }));
  });
}

describe("the browser example's dev and preview servers", () => {
  it('serve files of the folder', async () => {
    expect(await request('/config.json')).toEqual({ next: false, status: 200, body: '{"ok":true}' });
    expect((await request('/missing.json')).status).toBe(404);
  });

  it('never serve a sibling folder whose name starts with the same letters', async () => {
    expect(await request('/../story-secret/key.txt')).toEqual({ next: true });
    expect(await request('/..%2fstory-secret/key.txt')).toEqual({ next: true });
  });
});
