/**
 * What the web backend's browser tests share: a model server on another origin (with ways to
 * misbehave), a Vite plugin that serves a page without cross-origin isolation on request, and
 * ways to compare runs.
 */
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { Plugin } from 'vite';
import type { DoneEvent, GenerationEvent } from '@weft/core';

/** How the model server answers for one folder. */
export interface Folder {
  readonly dir: string;
  /** Send `Access-Control-Allow-Origin: *` (default true); without it the browser refuses the answers. */
  readonly cors?: boolean;
  /** A file the folder lacks: 404 (default), or an HTML page with status 200 as single-page-app servers send. */
  readonly missing?: 'not-found' | 'page';
  /** This file's bytes are cut to half, announced as such (a truncated upload). */
  readonly truncate?: string;
  /** This file's body stops halfway and the connection is dropped (a download that breaks off). */
  readonly breakOff?: string;
  /** Files answered with this text instead. */
  readonly replace?: Readonly<Record<string, string>>;
}

/** Serves `folders` at `/<name>/…` on 127.0.0.1 (another origin than the page), logging `METHOD /name/file`. */
export async function serveModels(folders: Readonly<Record<string, Folder>>): Promise<{ url: string; requested: string[]; close(): void }> {
  const requested: string[] = [];
  const server: Server = createHttpServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requested.push(`${req.method} ${path}`);
    const [, name = '', ...rest] = path.split('/');
    const folder = folders[name];
    const file = rest.join('/');
    const cors = folder?.cors === false ? {} : { 'access-control-allow-origin': '*' };
    const replaced = folder?.replace?.[file];
    const body = folder === undefined ? Promise.reject(new Error('no folder')) : replaced !== undefined ? Promise.resolve(Buffer.from(replaced)) : readFile(join(folder.dir, file));
    body.then(
      (bytes) => {
        if (folder!.truncate === file) bytes = bytes.subarray(0, bytes.length >> 1);
        res.writeHead(200, { ...cors, 'content-type': 'application/octet-stream', 'content-length': bytes.length });
        if (req.method === 'HEAD') return res.end();
        if (folder!.breakOff === file) {
          res.write(bytes.subarray(0, bytes.length >> 1), () => res.destroy());
          return;
        }
        res.end(bytes);
      },
      () => {
        if (folder?.missing === 'page') {
          res.writeHead(200, { ...cors, 'content-type': 'text/html; charset=utf-8' });
          return res.end(req.method === 'HEAD' ? undefined : '<!doctype html><title>app</title><div id="app"></div>');
        }
        res.writeHead(404, cors);
        res.end();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    requested,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/**
 * Serves a page asked for with `?isolated=0` without the example's COOP/COEP headers, so it is
 * not cross-origin isolated (no SharedArrayBuffer, hence no wasm threads).
 */
export function notIsolatedOnAsk(): Plugin {
  return {
    name: 'not-isolated-on-ask',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        if (new URL(req.url ?? '/', 'http://x').searchParams.get('isolated') === '0') {
          const setHeader = res.setHeader.bind(res);
          res.setHeader = (name, value) => (/^cross-origin-(opener|embedder)-policy$/i.test(name) ? res : setHeader(name, value));
        }
        next();
      });
    },
  };
}

/** A run's `done` event (the last one). */
export function doneOf(events: readonly GenerationEvent[]): DoneEvent {
  const last = events.at(-1);
  if (last?.type !== 'done') throw new Error(`expected a done event last, got ${last?.type}`);
  return last;
}

/** What a run gives, in a form both sides can compare: rows' ids and text, and why it finished. */
export const outcome = (done: DoneEvent) => ({ finishReason: done.finishReason, rows: done.rows.map((r) => ({ ids: r.ids, text: r.text, finishReason: r.finishReason })) });
