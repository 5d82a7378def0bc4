/**
 * A loaded Weft model behind a local HTTP endpoint, on `node:http` alone.
 *
 * - `POST /v1/generate` streams Server-Sent Events (one `data:` event per token, then
 *   `event: done`), or answers one JSON object with `"stream": false`.
 * - A client that disconnects aborts its generation: the loop stops at the next step boundary.
 * - At most `maxConcurrent` generations run at once; the next request gets 429 with Retry-After.
 * - `GET /healthz` reports the model and the generations in flight.
 *
 * This file routes requests, bounds the generations and tracks connections for `close()`. One
 * generation's run is in `stream-generation.ts`, body parsing, SSE framing and error answers are in
 * `http-io.ts`, and {@link serve} (load a model and serve it) is in `serve.ts`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { InvalidOptionsError, quoteValue, type GenerationRequest, type WeftModel } from '@weft/core';
import { describeError, HttpError, internalError, parseBody, readBody, sendError, sendJson, sendWeftError, type Logger } from './http-io.js';
import { streamGeneration, type Generation, type ServerEvent } from './stream-generation.js';

export { BODY_FIELDS, parseBody, type ErrorBody, type Logger } from './http-io.js';
export type { GenerationResult, ServerEvent } from './stream-generation.js';

/** Defaults of {@link GenerationServerOptions}. */
export const DEFAULTS = {
  maxConcurrent: 4,
  retryAfterSeconds: 1,
  maxBodyBytes: 1024 * 1024,
  /** How long `close()` lets clients read the end of their responses before it cuts the connections. */
  closeGraceMs: 2000,
} as const;

/** Options of {@link createGenerationServer}. */
export interface GenerationServerOptions {
  /** The loaded model every request runs on. The server never disposes it. */
  readonly model: WeftModel;
  /** Generations at once (default 4); the next request is answered 429. */
  readonly maxConcurrent?: number;
  /** The Retry-After of a 429, in seconds (default 1). */
  readonly retryAfterSeconds?: number;
  /** Largest request body (default 1 MiB); a larger one is answered 413. */
  readonly maxBodyBytes?: number;
  /** Default: info lines to stdout, errors to stderr. */
  readonly log?: Logger;
  /** Called as generations lose their client and end. */
  readonly onEvent?: (event: ServerEvent) => void;
}

/** A server made by {@link createGenerationServer}. */
export interface GenerationServer {
  /** The `node:http` server (not yet listening). */
  readonly server: Server;
  /** Starts listening (port 0: any free port) and resolves with the base URL, e.g. `http://127.0.0.1:8080`. */
  listen(port?: number, host?: string): Promise<URL>;
  /** Generations running now. */
  inFlight(): number;
  /**
   * Stops accepting connections, aborts every generation in flight (their clients get the end of
   * what was generated, with `finishReason: "abort"`), waits for them to end, and closes the
   * connections. Idempotent. The model stays loaded: its owner disposes it.
   */
  close(): Promise<void>;
}

const defaultLog: Logger = {
  info: (line) => process.stdout.write(`http-stream: ${line}\n`),
  error: (line) => process.stderr.write(`http-stream: ${line}\n`),
};

/**
 * An HTTP server for `options.model`. Start it with `listen(port, host)`, stop it with `close()`.
 *
 * @example
 * const app = createGenerationServer({ model });
 * const url = await app.listen(0, '127.0.0.1');
 * // … POST `${url}v1/generate` …
 * await app.close();
 */
export function createGenerationServer(options: GenerationServerOptions): GenerationServer {
  const { model, onEvent } = options;
  const maxConcurrent = positiveInteger(options.maxConcurrent ?? DEFAULTS.maxConcurrent, 'maxConcurrent');
  const retryAfterSeconds = positiveInteger(options.retryAfterSeconds ?? DEFAULTS.retryAfterSeconds, 'retryAfterSeconds');
  const maxBodyBytes = positiveInteger(options.maxBodyBytes ?? DEFAULTS.maxBodyBytes, 'maxBodyBytes');
  const log = options.log ?? defaultLog;
  /** The generations in flight: one slot each. */
  const running = new Set<Generation>();
  let requests = 0;
  let closing: Promise<void> | undefined;

  /** Each open connection, with the number of its responses not yet complete. */
  const connections = new Map<Socket, number>();
  const server = createServer({ noDelay: true }, (req, res) => {
    const request = ++requests;
    // A write after the client went away must not throw or crash the process.
    res.on('error', () => {});
    const socket = req.socket;
    connections.set(socket, (connections.get(socket) ?? 0) + 1);
    res.once('close', () => {
      const open = (connections.get(socket) ?? 1) - 1;
      if (!connections.has(socket)) return;
      connections.set(socket, open);
      if (closing && open === 0) socket.end(); // its last response is complete: close it
    });
    route(req, res, request).catch((error: unknown) => {
      log.error(`#${request} ${req.method} ${req.url} failed: ${describeError(error)}`);
      if (!res.headersSent && !res.destroyed) sendError(res, internalError(request));
      else res.destroy();
    });
  });
  server.on('connection', (socket: Socket) => {
    connections.set(socket, 0);
    socket.once('close', () => connections.delete(socket));
  });

  async function route(req: IncomingMessage, res: ServerResponse, request: number): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (closing) res.setHeader('Connection', 'close');
    if (path === '/v1/generate') {
      if (req.method !== 'POST') return sendError(res, new HttpError(405, 'MethodNotAllowed', `${path} takes POST.`, { Allow: 'POST' }));
      return generate(req, res, request);
    }
    if (path === '/healthz') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return sendError(res, new HttpError(405, 'MethodNotAllowed', `${path} takes GET or HEAD.`, { Allow: 'GET, HEAD' }));
      }
      return sendJson(res, closing ? 503 : 200, health(), req.method === 'HEAD');
    }
    sendError(res, new HttpError(404, 'NotFound', `No route ${path}: POST /v1/generate, GET /healthz.`));
  }

  function health(): Record<string, unknown> {
    return {
      status: closing ? 'shutting-down' : 'ok',
      model: {
        path: model.path,
        graphFile: model.graphFile,
        backend: model.backend,
        modelType: model.config.modelType,
        contextLength: model.config.maxPositions,
        // Weft's own count of the model's runs still using its session (this server's and any other code's).
        activeRuns: model.activeRuns,
      },
      inFlight: running.size,
      maxConcurrent,
    };
  }

  /** `POST /v1/generate`: a valid body, then a free slot, then the generation. */
  async function generate(req: IncomingMessage, res: ServerResponse, request: number): Promise<void> {
    res.setHeader('X-Request-Id', String(request));
    let body: { request: GenerationRequest; stream: boolean };
    try {
      body = parseBody(await readBody(req, maxBodyBytes));
    } catch (error) {
      if (error instanceof HttpError) return sendError(res, error);
      return sendWeftError(res, error, request, log);
    }
    if (closing) return sendError(res, new HttpError(503, 'ServiceUnavailable', 'The server is shutting down.'));
    if (running.size >= maxConcurrent) {
      return sendError(
        res,
        new HttpError(429, 'TooManyRequests', `${running.size} generations are running, the most this server runs at once; retry in ${retryAfterSeconds} s.`, {
          'Retry-After': String(retryAfterSeconds),
        }),
      );
    }
    streamGeneration({
      model,
      request: body.request,
      stream: body.stream,
      res,
      id: request,
      log,
      onEvent,
      takeSlot: (generation) => running.add(generation),
      freeSlot: (generation) => running.delete(generation),
    });
  }

  return {
    server,
    listen(port = 0, host = '127.0.0.1') {
      return new Promise<URL>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const address = server.address() as AddressInfo;
          const hostname = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          resolve(new URL(`http://${hostname}:${address.port}/`));
        });
      });
    },
    inFlight: () => running.size,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const generation of running) generation.stop('shutdown');
        // Connections without a response in progress (idle keep-alive ones, and ones a client
        // opened ahead and never used) close now; the others once their response is complete.
        for (const [socket, open] of connections) if (open === 0) socket.end();
        await Promise.all([...running].map((g) => g.ended));
        // Aborted generations answered with what they had. A client that does not read the end of
        // its response, or does not close its side, is cut off after a grace period.
        const cut = setTimeout(() => server.closeAllConnections(), DEFAULTS.closeGraceMs);
        await closed;
        clearTimeout(cut);
      })();
      return closing;
    },
  };
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new InvalidOptionsError(`${name} must be a whole number >= 1 (got ${quoteValue(value)}).`, { option: name });
  return value;
}
