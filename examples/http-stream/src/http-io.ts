/**
 * The HTTP side of the example, with no model in it: reading and checking a request body, writing
 * JSON answers and Server-Sent Events, and turning errors (Weft's typed ones included) into HTTP
 * answers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
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
// The request body

/** The fields a `POST /v1/generate` body may have; any other is a 400. */
export const BODY_FIELDS = ['prompt', 'messages', 'maxTokens', 'temperature', 'topK', 'topP', 'seed', 'stop', 'stream'] as const;

/** Reads the body (at most `limit` bytes) as UTF-8 text. */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const tooLarge = (): HttpError => new HttpError(413, 'PayloadTooLarge', `The body is larger than ${limit} bytes.`, { Connection: 'close' });
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.resume(); // the rest is read and dropped; the answer closes the connection
        reject(tooLarge());
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

/**
 * The generation request and `stream` of a body. Weft checks the request's values when the run
 * starts; here only what the HTTP API adds: JSON, the allowed fields, `stream`, and one text per
 * request (a `prompt` string or one conversation of `messages`; Weft would take lists as a batch).
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
    return sendError(res, new HttpError(400, 'InvalidOptionsError', error.message), error.option === undefined ? {} : { option: error.option });
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

/** An error for the log, with its stack. */
export function describeError(error: unknown): string {
  return error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
}
