import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';

/**
 * Answers one request for a file the folder has, or returns false to let the default answer it
 * (the file with its `content-length`, the headers alone for HEAD).
 */
export type FileResponder = (request: { path: string; body: Buffer; req: IncomingMessage; res: ServerResponse }) => boolean;

/**
 * Serves the files of `root` on 127.0.0.1 at `url`, logging each request as `METHOD /path` in
 * `requested`. A file the folder lacks is a 404, or what `missing` answers; `respond` may answer
 * a request for a file it has in its own way.
 */
export async function serveFolder(
  root: string,
  options: { respond?: FileResponder; missing?: (req: IncomingMessage, res: ServerResponse) => void } = {},
): Promise<{ url: string; requested: string[]; close(): void }> {
  const requested: string[] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requested.push(`${req.method} ${path}`);
    readFile(join(root, path)).then(
      (body) => {
        if (options.respond?.({ path, body, req, res })) return;
        res.writeHead(200, { 'content-length': body.byteLength });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      () => {
        if (options.missing) return options.missing(req, res);
        res.writeHead(404);
        res.end();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`,
    requested,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/**
 * A responder for `serveFolder` that answers a GET of `path` with a body that never ends (no
 * `content-length`), written in `chunk`-byte pieces as fast as the client reads.
 */
export function endlessBody(path: string, chunk = 1 << 16, headers: Record<string, string> = {}): FileResponder {
  const piece = Buffer.alloc(chunk, 0x20);
  return ({ path: requested, req, res }) => {
    if (requested !== path || req.method !== 'GET') return false;
    res.writeHead(200, headers);
    const more = (): void => {
      while (!res.destroyed && res.write(piece));
      if (!res.destroyed) res.once('drain', more);
    };
    more();
    return true;
  };
}
