/**
 * What the server tests share: one runtime on models/story with a plugin that counts forward
 * passes (and can slow them down or make them fail), servers started on 127.0.0.1 and closed after
 * each test, and raw-socket and node:http clients. Importing it registers the hooks that load the
 * model and close the servers.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { nodeBackend } from '@weft/backend-node';
import { createWeft, type DoneEvent, type GenerationRequest, type WeftModel } from '@weft/core';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createGenerationServer, type GenerationServer, type GenerationServerOptions, type ServerEvent } from '../src/server.js';
import { doneOf, sseEvents, stepProbe, storyModel, type SseEvent } from './helpers.js';

export const PROMPT = 'Once upon a time, there was a little girl named';

export const probe = stepProbe();
const weft = createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: 1 } }), probe.plugin] });
/** The model the servers run (loaded before the tests). */
export let model: WeftModel;
/** Tokens greedy decoding of PROMPT generates when nothing stops it (the story ends with EOS). */
export let wholeStory: number;

/** The done event of a generation run directly on the model (no server). */
export const generateDirect = (request: GenerationRequest): Promise<DoneEvent> => doneOf(model, request);

beforeAll(async () => {
  model = await weft.load(storyModel);
  wholeStory = (await generateDirect({ prompt: PROMPT, maxTokens: 1000 })).usage.completionTokens;
});
afterAll(() => weft.dispose());

export interface Started {
  readonly app: GenerationServer;
  readonly url: URL;
  readonly info: string[];
  readonly errors: string[];
  /** Server events, each with the forward passes counted when it happened. */
  readonly events: (ServerEvent & { readonly steps: number })[];
  post(body: unknown, init?: RequestInit): Promise<Response>;
}

const started: GenerationServer[] = [];
afterEach(async () => {
  probe.reset();
  await Promise.all(started.splice(0).map((app) => app.close()));
});

/** A server on `host` (default 127.0.0.1), any free port, closed after the test. */
export async function start(options: Partial<GenerationServerOptions> = {}, host = '127.0.0.1'): Promise<Started> {
  const info: string[] = [];
  const errors: string[] = [];
  const events: (ServerEvent & { steps: number })[] = [];
  const app = createGenerationServer({
    model,
    log: { info: (line) => info.push(line), error: (line) => errors.push(line) },
    onEvent: (event) => events.push({ ...event, steps: probe.steps }),
    // close() in afterEach need not wait the default half second for late requests.
    idleGraceMs: 20,
    ...options,
  });
  started.push(app);
  const url = await app.listen(0, host);
  const post = (body: unknown, init: RequestInit = {}) =>
    fetch(new URL('/v1/generate', url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: typeof body === 'string' || body instanceof Blob ? body : JSON.stringify(body),
      ...init,
    });
  return { app, url, info, errors, events, post };
}

/**
 * Sends `text` on a new connection (and half-closes it with `end`), and resolves with everything
 * the server sent once the server closes the connection; fails if it is still open after `timeoutMs`.
 */
export function exchange(url: URL, text: string | readonly string[], { end = false, timeoutMs = 15_000 } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open ${timeoutMs} ms; it sent ${JSON.stringify(received)}`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    for (const part of typeof text === 'string' ? [text] : text) socket.write(part);
    if (end) socket.end();
  });
}

/** The head of a POST /v1/generate with `body` (Content-Length: its length unless given; `undefined` leaves a header out). */
export function postHead(body: string, headers: Readonly<Record<string, string | number | undefined>> = {}): string {
  const all = { Host: '127.0.0.1', 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...headers };
  return `POST /v1/generate HTTP/1.1\r\n${Object.entries(all)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')}\r\n`;
}

/** A request with node:http, which (unlike fetch) may set Host and Origin. */
export function send(
  url: URL,
  { method = 'POST', path = '/v1/generate', headers = {}, body }: { method?: string; path?: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: Number(url.port), method, path, headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

export const tokenEvents = (events: readonly SseEvent[]) => events.filter((e) => e.event === 'message' && 'id' in e.data);

/** Reads a stream until it has `count` token events, and returns the iterator to read on. */
export async function readTokens(response: Response, count: number): Promise<AsyncGenerator<SseEvent>> {
  const events = sseEvents(response);
  for (let seen = 0; seen < count; ) {
    const next = await events.next();
    if (next.done) throw new Error(`the stream ended after ${seen} tokens`);
    if (next.value.event !== 'message') throw new Error(`expected a token event, got ${JSON.stringify(next.value)}`);
    if ('id' in next.value.data) seen++;
  }
  return events;
}

/**
 * Sends `head`, then body bytes (chunks of 256 KiB, chunk-framed with `chunked`) as fast as the
 * server takes them, until the server closes the connection or `limit` bytes are sent. Resolves
 * with what the server answered, the body bytes sent, and whether the connection was still open.
 */
export function flood(url: URL, head: string, { chunked = false, limit = 64 * 1024 * 1024 } = {}): Promise<{ answer: string; sent: number; open: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), '127.0.0.1');
    let answer = '';
    let sent = 0;
    let settled = false;
    const finish = (open: boolean): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve({ answer, sent, open });
    };
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.on('error', () => finish(false));
    socket.on('close', () => finish(false));
    socket.on('end', () => finish(false));
    const bytes = Buffer.alloc(256 * 1024, 0x20);
    const chunk = chunked ? Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from('\r\n')]) : bytes;
    const pump = (): void => {
      while (!settled) {
        if (!socket.writable) return finish(false);
        if (sent >= limit) return finish(true);
        sent += chunk.length;
        if (!socket.write(chunk)) return void socket.once('drain', pump);
      }
    };
    socket.write(head);
    pump();
  });
}
