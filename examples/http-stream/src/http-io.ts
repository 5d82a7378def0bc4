/**
 * The HTTP side of the example, with no model in it: reading and checking a request body, writing
 * JSON answers and Server-Sent Events, and turning errors (Weft's typed ones included) into HTTP
 * answers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { checkKnownKeys, ContextOverflowError, InvalidOptionsError, ModelDisposedError, quoteValue, type GenerationRequest } from '@weft/core';

/** Where the server writes its log: one line per finished generation, and errors (with stacks). */
export interface Logger {
  info(line: string): void;
  error(line: string): void;
}

/** An HTTP-level refusal that is not a Weft error (wrong path, too busy, body too large…). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** The body of every error answer (and of the `error` SSE event). */
export interface ErrorBody {
  readonly error: { readonly type: string; readonly message: string; readonly [detail: string]: unknown };
}

// ---------------------------------------------------------------------------------------------
// The request line and headers

/** The host names a server answers to whatever it listens on: this machine's loopback names. */
export const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'] as const;

/** A path of origin-form: `/` then RFC 3986 path characters (percent-escapes included). */
const PATH = /^\/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*$/;

/**
 * The path of a request target (`req.url`), without its query; undefined if it is not a valid
 * one. The target is taken as sent, dot-segments included (`/v1/../healthz` is not `/healthz`):
 * in `//v1/generate` the `//` starts a path, not a host. Absolute-form (`http://host/path`, which
 * HTTP/1.1 servers must accept) gives its path by the same rule (`/` when it has none).
 */
export function requestPath(target: string): string | undefined {
  const origin = target.startsWith('/') ? target : absoluteForm(target)?.rest;
  if (origin === undefined) return undefined;
  const path = origin.slice(0, origin.search(/[?#]|$/)) || '/';
  return PATH.test(path) ? path : undefined;
}

/**
 * The authority (`host[:port]`) of an absolute-form request target (`http://localhost:8080/v1/generate`),
 * undefined for any other: a server must take it in place of the Host header (RFC 9112, 3.2.2).
 */
export function targetAuthority(target: string): string | undefined {
  return absoluteForm(target)?.authority;
}

function absoluteForm(target: string): { authority: string; rest: string } | undefined {
  const match = /^https?:\/\/([^/?#]+)(.*)$/is.exec(target);
  return match ? { authority: match[1]!, rest: match[2]!.startsWith('/') ? match[2]! : `/${match[2]!}` } : undefined;
}

/**
 * The host name of a Host header value or of an `allowedHosts` entry, as the URL parser writes it
 * (`LocalHost:8080` is `localhost`, `[::1]:8080` and `::1` are `[::1]`); undefined if it is not one.
 */
export function hostName(host: string): string | undefined {
  const value = /^[0-9a-f:]*:[0-9a-f:.]*$/i.test(host) && host.split(':').length > 2 ? `[${host}]` : host; // a bare IPv6 address
  if (!/^[A-Za-z0-9.\-_:[\]]+$/.test(value)) return undefined;
  try {
    return new URL(`http://${value}`).hostname.replace(/\.$/, '');
  } catch {
    return undefined;
  }
}

/** Whether a {@link hostName} is an IP address (`192.168.1.5`, `[fe80::1]`), not a DNS name. */
export function isIpAddress(name: string): boolean {
  return isIP(name.replace(/^\[(.*)\]$/, '$1')) !== 0;
}

/** Whether `host` (a listen address) is a wildcard one, `0.0.0.0` or `::`: every interface of the machine. */
export function isAnyAddress(host: string): boolean {
  const name = hostName(host);
  return name === '0.0.0.0' || name === '[::]';
}

/**
 * Refuses (403) a request that a web page could have made the user's browser send: a Host header
 * that is a DNS name other than those in `allowed` (a DNS-rebinding page, whose own name the
 * browser sends as Host; an IP address is always taken, since rebinding needs a name), or an
 * Origin header other than the server's own address (a page of another site posting a form or a
 * `fetch` without a CORS preflight). Clients that are not browsers send no Origin. An
 * absolute-form target's authority stands for the Host header, which is then ignored (RFC 9112).
 */
export function checkOrigin(req: IncomingMessage, allowed: ReadonlySet<string>): HttpError | undefined {
  const authority = targetAuthority(req.url ?? '');
  const host = authority ?? req.headers.host;
  const { origin } = req.headers;
  if (host !== undefined) {
    const name = hostName(host);
    if (name === undefined || (!allowed.has(name) && !isIpAddress(name))) {
      return new HttpError(
        403,
        'Forbidden',
        `${authority === undefined ? 'Host' : "The request target's host"} ${quoteValue(host)} is not a name of this server (${[...allowed].join(', ')}, or an IP address); add it with allowedHosts (--allowed-hosts).`,
      );
    }
  }
  if (origin !== undefined && !sameOrigin(origin, host)) {
    return new HttpError(403, 'Forbidden', `Requests from web pages of another origin are refused (Origin ${quoteValue(origin)}).`);
  }
  return undefined;
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    const from = new URL(origin);
    return (from.protocol === 'http:' || from.protocol === 'https:') && from.host === new URL(`http://${host}`).host;
  } catch {
    return false; // `Origin: null` (a sandboxed frame, a file: page…) included
  }
}

/**
 * Refuses (415) a body that is not JSON as this server reads it: `Content-Type` must be
 * `application/json` (UTF-8, the only charset JSON has), with no `Content-Encoding` other than
 * `identity`. Requiring the JSON type also makes a browser ask first (a CORS preflight) before a
 * cross-origin `fetch`, which this server never grants; a form post cannot send it at all.
 */
export function checkBodyHeaders(req: IncomingMessage): HttpError | undefined {
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    return new HttpError(415, 'UnsupportedMediaType', `Content-Encoding ${quoteValue(encoding)} is not supported: send the body uncompressed.`);
  }
  const type = req.headers['content-type'];
  const [media = '', ...parameters] = (type ?? '').split(';');
  const charset = parameters
    .map((p) => p.split('='))
    .find(([name]) => name?.trim().toLowerCase() === 'charset')?.[1]
    ?.trim()
    .replace(/^"(.*)"$/, '$1')
    .toLowerCase();
  if (media.trim().toLowerCase() !== 'application/json' || (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')) {
    return new HttpError(
      415,
      'UnsupportedMediaType',
      `The body must be JSON in UTF-8, sent with Content-Type: application/json (got ${type === undefined ? 'no Content-Type' : quoteValue(type)}).`,
    );
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The request body

/** The most `stop` strings a request may give (each costs work at every token); more is a 400. */
export const MAX_STOP_STRINGS = 16;
/** The longest `stop` string a request may give, in UTF-16 code units; longer is a 400. */
export const MAX_STOP_LENGTH = 200;

/** The fields a `POST /v1/generate` body may have; any other is a 400. */
export const BODY_FIELDS = ['prompt', 'messages', 'maxTokens', 'temperature', 'topK', 'topP', 'seed', 'stop', 'stream'] as const;

/**
 * How much of a body over the limit is still read (and dropped) after the 413, so that a client
 * still sending it can read the answer: closing a connection with unread data resets it, and
 * clients then report the reset (EPIPE, ECONNRESET), not the 413. Past this, the connection closes.
 */
export const DRAIN_BYTES = 8 * 1024 * 1024;

/**
 * Reads the body (at most `limit` bytes) as UTF-8 text. A larger body is a 413: the answer goes
 * out at once, and the rest of the body, up to `limit +` {@link DRAIN_BYTES} bytes in all, is read
 * and dropped (the connection then takes the next request; past that, it closes); a
 * `Content-Length` that declares more than that is answered 413 with `Connection: close` unread.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const tooLarge = (close: boolean): HttpError =>
    new HttpError(413, 'PayloadTooLarge', `The body is larger than ${limit} bytes.`, close ? { Connection: 'close' } : {});
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    if (declared > limit + DRAIN_BYTES) return Promise.reject(tooLarge(true));
    drain(req, limit + DRAIN_BYTES); // nothing read yet: the whole declared body fits this budget
    return Promise.reject(tooLarge(false));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        chunks.length = 0;
        drain(req, DRAIN_BYTES - (size - limit));
        reject(tooLarge(false));
      } else chunks.push(chunk);
    };
    req.on('data', onData);
    // The client went away before sending the whole body ('error' with "aborted", then 'close'):
    // nobody is left to answer, and there is nothing to log.
    const gone = (): void => reject(new HttpError(499, 'ClientClosedRequest', 'The client closed the connection before sending the whole body.'));
    req.on('error', gone);
    req.on('close', gone);
    req.on('end', () => {
      if (size > limit) return;
      try {
        resolve(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks)));
      } catch (cause) {
        reject(new InvalidOptionsError('The body is not valid UTF-8.', { option: 'body', cause }));
      }
    });
  });
}

/** Reads the rest of `req` and drops it; past `bytes` more, closes the connection. */
function drain(req: IncomingMessage, bytes: number): void {
  let left = bytes;
  req.on('data', (chunk: Buffer) => {
    left -= chunk.length;
    if (left < 0) req.socket.destroy();
  });
  req.resume();
}

/**
 * For a request answered without reading its body (a 403, 404, 405…): its body, if it has one, is
 * read and dropped up to {@link DRAIN_BYTES} (the connection then takes the next request; past
 * that, it closes), and one that declares more is answered with `Connection: close`, unread.
 * Left alone, node:http would read and drop the whole body, however long, until `requestTimeoutMs`.
 */
export function dropBody(req: IncomingMessage, res: ServerResponse): void {
  const length = req.headers['content-length'];
  if (req.complete || ((length === undefined || length === '0') && req.headers['transfer-encoding'] === undefined)) return;
  if (Number(length) > DRAIN_BYTES) res.setHeader('Connection', 'close');
  else drain(req, DRAIN_BYTES);
}

/**
 * The generation request and `stream` of a body. Weft checks the request's values when the run
 * starts; here only what the HTTP API adds: JSON, the allowed fields, `stream`, and one text per
 * request (a `prompt` string or one conversation of `messages`; Weft would take lists as a batch),
 * and at most {@link MAX_STOP_STRINGS} `stop` strings of at most {@link MAX_STOP_LENGTH} characters.
 */
export function parseBody(text: string): { request: GenerationRequest; stream: boolean } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (cause) {
    throw new InvalidOptionsError(`The body is not valid JSON (${(cause as Error).message}); send an object such as {"prompt": "Once upon a time"}.`, {
      option: 'body',
      cause,
    });
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidOptionsError(`The body must be a JSON object such as {"prompt": "Once upon a time"} (got ${quoteValue(body)}).`, { option: 'body' });
  }
  checkKnownKeys(body, BODY_FIELDS, 'The request body', '');
  const { stream = true, ...request } = body as Record<string, unknown>;
  if (typeof stream !== 'boolean') throw new InvalidOptionsError(`stream must be true or false (got ${quoteValue(stream)}).`, { option: 'stream' });
  if ((request.prompt === undefined) === (request.messages === undefined)) {
    throw new InvalidOptionsError(`Give exactly one of prompt or messages (got ${request.prompt === undefined ? 'neither' : 'both'}).`, { option: 'prompt' });
  }
  if (request.prompt !== undefined && typeof request.prompt !== 'string') {
    throw new InvalidOptionsError(`prompt must be a string: this server generates one text per request (got ${quoteValue(request.prompt)}).`, { option: 'prompt' });
  }
  if (Array.isArray(request.stop)) {
    if (request.stop.length > MAX_STOP_STRINGS) {
      throw new InvalidOptionsError(`stop takes at most ${MAX_STOP_STRINGS} strings (got ${request.stop.length}).`, { option: 'stop' });
    }
    const long = request.stop.find((s) => typeof s === 'string' && s.length > MAX_STOP_LENGTH) as string | undefined;
    if (long !== undefined) {
      throw new InvalidOptionsError(`A stop string is at most ${MAX_STOP_LENGTH} characters long (got ${long.length}).`, { option: 'stop' });
    }
  }
  if (Array.isArray(request.messages) && request.messages.some((m) => Array.isArray(m))) {
    throw new InvalidOptionsError('messages must be one conversation, a list of {"role", "content"} objects: this server generates one text per request.', {
      option: 'messages',
    });
  }
  return { request: request as GenerationRequest, stream };
}

// ---------------------------------------------------------------------------------------------
// Answers

/** One Server-Sent Event: `data:` is one line of JSON (JSON escapes line breaks). */
export function sse(data: unknown, event?: string): string {
  return `${event === undefined ? '' : `event: ${event}\n`}data: ${JSON.stringify(data)}\n\n`;
}

/** Answers `body` as JSON (with `headOnly`, the headers alone: a HEAD request). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headOnly = false): void {
  if (res.destroyed) return;
  const json = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(json) });
  res.end(headOnly ? undefined : json);
}

/** Answers `error` with its status and headers, and `{"error": …}` as the body. */
export function sendError(res: ServerResponse, error: HttpError, details: Readonly<Record<string, unknown>> = {}): void {
  if (res.destroyed) return;
  for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  sendJson(res, error.status, errorBody(error, details));
}

export function errorBody(error: HttpError, details: Readonly<Record<string, unknown>> = {}): ErrorBody {
  return { error: { type: error.type, message: error.message, ...details } };
}

/** Answers a failed request: Weft's request errors are the client's (400), the rest the server's. */
export function sendWeftError(res: ServerResponse, error: unknown, request: number, log: Logger): void {
  if (InvalidOptionsError.isInstance(error)) {
    return sendError(res, new HttpError(400, 'InvalidOptionsError', clip(error.message, 1000)), error.option === undefined ? {} : { option: clip(error.option) });
  }
  if (ContextOverflowError.isInstance(error)) {
    return sendError(res, new HttpError(400, 'ContextOverflowError', error.message), { promptTokens: error.promptTokens, contextLength: error.contextLength });
  }
  if (ModelDisposedError.isInstance(error)) return sendError(res, new HttpError(503, 'ServiceUnavailable', 'The model was unloaded: the server is shutting down.'));
  // Anything else is the server's fault: the stack goes to the log, not to the client.
  log.error(`#${request} failed: ${describeError(error)}`);
  sendError(res, internalError(request));
}

/** The 500 a client gets for a server-side failure: no message or stack, only where to look in the log. */
export function internalError(request: number): HttpError {
  return new HttpError(500, 'InternalError', `The generation failed; the server log has the details (request #${request}).`);
}

/**
 * `text` cut to at most `max` characters (an ellipsis marks the cut): what a client sent (an
 * unknown key, a path) is echoed in an error answer at a bounded length.
 */
export function clip(text: string, max = 200): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** An error for the log, with its stack. */
export function describeError(error: unknown): string {
  return error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
}
