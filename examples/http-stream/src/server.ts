/**
 * A loaded Weft model behind a local HTTP endpoint, on `node:http` alone.
 *
 * - `POST /v1/generate` streams Server-Sent Events (one `data:` event per token, then
 *   `event: done`), or answers one JSON object with `"stream": false`.
 * - A client that disconnects aborts its generation: the loop stops at the next step boundary.
 * - At most `maxConcurrent` generations run at once; the next request gets 429 with Retry-After,
 *   before its body is read. At most `maxBodiesReading` bodies are read at once.
 * - Only this server's own names and IP addresses are answered (Host), and no web page of another
 *   origin (Origin): a page open in the user's browser cannot drive it. Refusals are logged.
 * - `GET /healthz` reports the model and the generations in flight.
 *
 * This file routes requests, bounds the generations and tracks connections for `close()`. One
 * generation's run is in `stream-generation.ts`, body parsing, SSE framing and error answers are in
 * `http-io.ts`, and {@link serve} (load a model and serve it) is in `serve.ts`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { InvalidOptionsError, quoteValue, type GenerationRequest, type WeftModel } from '@weft/core';
import {
  checkBodyHeaders,
  checkOrigin,
  clip,
  describeError,
  dropBody,
  hostName,
  HttpError,
  isAnyAddress,
  internalError,
  LOOPBACK_HOSTS,
  parseBody,
  readBody,
  requestPath,
  sendError,
  sendJson,
  sendWeftError,
  type Logger,
} from './http-io.js';
import { streamGeneration, type Generation, type ServerEvent } from './stream-generation.js';

export { BODY_FIELDS, DRAIN_BYTES, LOOPBACK_HOSTS, MAX_STOP_LENGTH, MAX_STOP_STRINGS, parseBody, type ErrorBody, type Logger } from './http-io.js';
export type { GenerationResult, ServerEvent } from './stream-generation.js';

/** Defaults of {@link GenerationServerOptions}. */
export const DEFAULTS = {
  maxConcurrent: 4,
  retryAfterSeconds: 1,
  maxBodyBytes: 1024 * 1024,
  maxBodiesReading: 16,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  maxConnections: 256,
  idleGraceMs: 500,
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
  /**
   * Request bodies read at once (default 16), each held in memory until complete: at most
   * `maxBodiesReading × maxBodyBytes` bytes. The next request is answered 429 before its body is read.
   */
  readonly maxBodiesReading?: number;
  /** Time a client has to send a request's headers (default 10 s); then it gets 408 and the connection closes. */
  readonly headersTimeoutMs?: number;
  /** Time a client has to send a whole request, body included (default 30 s, at least `headersTimeoutMs`); then 408. */
  readonly requestTimeoutMs?: number;
  /**
   * Open connections at once (default 256); past that, new ones are closed at once, unanswered. A
   * connection that sends no request within `headersTimeoutMs` is closed (408).
   */
  readonly maxConnections?: number;
  /**
   * Host names the server answers to besides `localhost`, the host it listens on (unless that is
   * `0.0.0.0` or `::`) and IP addresses (`127.0.0.1`, `[::1]`, any other): a request whose Host
   * header is another DNS name is refused (403), so that a DNS-rebinding page cannot reach it
   * through its own name. Give the names clients use when it listens on another interface.
   */
  readonly allowedHosts?: readonly string[];
  /**
   * How long `close()` goes on answering 503 before it stops listening and closes idle
   * connections (default 500 ms): requests already on their way get an answer, not a reset.
   */
  readonly idleGraceMs?: number;
  /** Default: info lines to stdout, errors to stderr. */
  readonly log?: Logger;
  /** Called as generations lose their client and end. */
  readonly onEvent?: (event: ServerEvent) => void;
}

/** A server made by {@link createGenerationServer}. */
export interface GenerationServer {
  /** The `node:http` server (not yet listening). */
  readonly server: Server;
  /**
   * Starts listening (port 0: any free port) and resolves with the base URL, e.g.
   * `http://127.0.0.1:8080/` (also for a wildcard `host`, `0.0.0.0` or `::`, which listens on
   * every interface, this machine's loopback one included). `host` joins the allowed Host names
   * unless it is a wildcard.
   */
  listen(port?: number, host?: string): Promise<URL>;
  /** Generations running now. */
  inFlight(): number;
  /**
   * Aborts every generation in flight (their clients get the end of what was generated, with
   * `finishReason: "abort"`) and answers any other request 503; after `idleGraceMs` stops
   * listening and closes the idle connections, waits for the generations to end, and closes the
   * other connections once their answers are sent. Idempotent. The model stays loaded: its owner
   * disposes it.
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
  const maxBodiesReading = positiveInteger(options.maxBodiesReading ?? DEFAULTS.maxBodiesReading, 'maxBodiesReading');
  const headersTimeout = positiveInteger(options.headersTimeoutMs ?? DEFAULTS.headersTimeoutMs, 'headersTimeoutMs');
  const requestTimeout = positiveInteger(options.requestTimeoutMs ?? Math.max(DEFAULTS.requestTimeoutMs, headersTimeout), 'requestTimeoutMs');
  if (requestTimeout < headersTimeout) {
    throw new InvalidOptionsError(`requestTimeoutMs (${requestTimeout}) must be at least headersTimeoutMs (${headersTimeout}).`, { option: 'requestTimeoutMs' });
  }
  const maxConnections = positiveInteger(options.maxConnections ?? DEFAULTS.maxConnections, 'maxConnections');
  const idleGraceMs = options.idleGraceMs ?? DEFAULTS.idleGraceMs;
  if (!Number.isFinite(idleGraceMs) || idleGraceMs < 0) {
    throw new InvalidOptionsError(`idleGraceMs must be a number of milliseconds >= 0 (got ${quoteValue(idleGraceMs)}).`, { option: 'idleGraceMs' });
  }
  /** The names a Host header may give (see `allowedHosts`). */
  const allowed = new Set<string>(LOOPBACK_HOSTS);
  for (const host of options.allowedHosts ?? []) {
    const name = hostName(host);
    if (name === undefined) throw new InvalidOptionsError(`allowedHosts: ${quoteValue(host)} is not a host name or address.`, { option: 'allowedHosts' });
    allowed.add(name);
  }
  const log = options.log ?? defaultLog;
  /** The generations in flight: one slot each. */
  const running = new Set<Generation>();
  let requests = 0;
  /** Request bodies being read now. */
  let reading = 0;
  let closing: Promise<void> | undefined;

  /** Each open connection, with the number of its responses not yet complete. */
  const connections = new Map<Socket, number>();
  const server = createServer(
    {
      noDelay: true,
      headersTimeout,
      requestTimeout,
      // How often node:http looks for connections past those timeouts (its default, 30 s, would let
      // a slow client hold a connection that much longer).
      connectionsCheckingInterval: Math.min(1000, Math.ceil(headersTimeout / 4)),
    },
    onRequest,
  );
  server.maxConnections = maxConnections;
  // `Expect: 100-continue` (curl sends it for large bodies): the client waits for a 100 before
  // sending its body. Without this listener node:http sends the 100 at once, inviting a body the
  // server may then refuse (busy, shutting down, wrong type, declared too large). The 100 goes out
  // only for a request nothing refuses before its body; a refused one gets its answer instead
  // (route does the same checks).
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (refusedBeforeBody(req) === undefined) res.writeContinue();
    onRequest(req, res);
  });
  server.on('connection', (socket: Socket) => {
    connections.set(socket, 0);
    socket.once('close', () => connections.delete(socket));
  });

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
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
      log.error(`#${request} ${req.method} ${clip(req.url ?? '')} failed: ${describeError(error)}`);
      if (!res.headersSent && !res.destroyed) sendError(res, internalError(request));
      else res.destroy();
    });
  }

  async function route(req: IncomingMessage, res: ServerResponse, request: number): Promise<void> {
    if (closing) res.setHeader('Connection', 'close');
    const refused = checkOrigin(req, allowed);
    const path = requestPath(req.url ?? '');
    if (refused === undefined && path === '/v1/generate' && req.method === 'POST') return generate(req, res, request);
    // Every other request is answered without reading its body: what it sends is dropped, within a bound.
    dropBody(req, res);
    if (refused) {
      // What the client sent is in the message: the operator sees why a client is refused.
      log.info(`#${request} ${req.method} ${clip(req.url ?? '')} refused (403): ${refused.message}`);
      return sendError(res, refused);
    }
    if (path === undefined) {
      return sendError(res, new HttpError(400, 'BadRequest', `The request target ${quoteValue(req.url)} is not a path such as /v1/generate.`));
    }
    if (path === '/v1/generate') return sendError(res, new HttpError(405, 'MethodNotAllowed', `${path} takes POST.`, { Allow: 'POST' }));
    if (path === '/healthz') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return sendError(res, new HttpError(405, 'MethodNotAllowed', `${path} takes GET or HEAD.`, { Allow: 'GET, HEAD' }));
      }
      return sendJson(res, closing ? 503 : 200, health(), req.method === 'HEAD');
    }
    sendError(res, new HttpError(404, 'NotFound', `No route ${clip(path)}: POST /v1/generate, GET /healthz.`));
  }

  /**
   * Why a request would be answered before its body is read (origin, path, method, body headers,
   * 503/429), or undefined: for `Expect: 100-continue`, whether to invite the body.
   */
  function refusedBeforeBody(req: IncomingMessage): HttpError | undefined {
    const refused = checkOrigin(req, allowed);
    if (refused) return refused;
    if (requestPath(req.url ?? '') !== '/v1/generate' || req.method !== 'POST') return new HttpError(404, 'NotFound', 'not a generation');
    return (
      checkBodyHeaders(req) ??
      unavailable() ??
      (reading >= maxBodiesReading ? tooMany('bodies') : undefined) ??
      // readBody answers this 413 before reading a byte (and node:http closes a connection whose body was not invited).
      (Number(req.headers['content-length']) > maxBodyBytes ? new HttpError(413, 'PayloadTooLarge', 'too large') : undefined)
    );
  }

  /** The 503 while shutting down, or the 429 when every generation slot is taken. */
  function unavailable(): HttpError | undefined {
    if (closing) return new HttpError(503, 'ServiceUnavailable', 'The server is shutting down.');
    if (running.size >= maxConcurrent) return tooMany(`${running.size} generations are running, the most this server runs at once`);
    return undefined;
  }

  function tooMany(why: string): HttpError {
    return new HttpError(429, 'TooManyRequests', `${why}; retry in ${retryAfterSeconds} s.`, { 'Retry-After': String(retryAfterSeconds) });
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

  /**
   * `POST /v1/generate`: the headers, then a free slot and room to read the body (refusals come
   * before the body is read, and close the connection, which drops it), then a valid body, then
   * the slot again (the body took time to arrive), then the generation.
   */
  async function generate(req: IncomingMessage, res: ServerResponse, request: number): Promise<void> {
    res.setHeader('X-Request-Id', String(request));
    const early =
      checkBodyHeaders(req) ??
      unavailable() ??
      (reading >= maxBodiesReading ? tooMany(`The server is receiving ${reading} request bodies, the most it reads at once`) : undefined);
    if (early) {
      res.setHeader('Connection', 'close');
      return sendError(res, early);
    }
    let body: { request: GenerationRequest; stream: boolean };
    reading++;
    try {
      body = parseBody(await readBody(req, maxBodyBytes));
    } catch (error) {
      if (error instanceof HttpError) return sendError(res, error);
      return sendWeftError(res, error, request, log);
    } finally {
      reading--;
    }
    const late = unavailable();
    if (late) return sendError(res, late);
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
          const name = hostName(host);
          const any = isAnyAddress(host);
          if (name !== undefined && !any) allowed.add(name);
          server.off('error', reject);
          const address = server.address() as AddressInfo;
          // A wildcard address is not one to connect to: the loopback one is (`::` takes IPv4 too).
          const hostname = any ? '127.0.0.1' : address.family === 'IPv6' ? `[${address.address}]` : address.address;
          resolve(new URL(`http://${hostname}:${address.port}/`));
        });
      });
    },
    inFlight: () => running.size,
    close() {
      closing ??= (async () => {
        for (const generation of running) generation.stop('shutdown');
        // A request a client sent just now on an open connection may not have been read yet:
        // closing the connection would lose it unanswered. For a moment, every request is
        // answered 503 (with Connection: close); the server still listens meanwhile.
        if (connections.size > 0 && idleGraceMs > 0) await new Promise((resolve) => setTimeout(resolve, idleGraceMs));
        // Then it stops listening, and the connections without a request in progress close:
        // idle keep-alive ones (closeIdleConnections, which server.close() also calls), and ones
        // that never completed a request's headers, which node:http does not count as idle. The
        // others close once their response is complete.
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        for (const [socket, open] of connections) if (open === 0) socket.destroy();
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
