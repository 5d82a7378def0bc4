/**
 * The HTTP server on models/story, over real HTTP on 127.0.0.1 with Node's fetch. The model's
 * runtime has a plugin that counts forward passes (and can slow them down or make them fail), so
 * the tests can see when a generation runs and when it stops.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { nodeBackend } from '@weft/backend-node';
import { createWeft, InvalidOptionsError, type DoneEvent, type GenerationRequest, type WeftModel } from '@weft/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sendWeftError } from '../src/http-io.js';
import { createGenerationServer, type GenerationServer, type GenerationServerOptions, type ServerEvent } from '../src/server.js';
import { allEvents, doneOf, sseEvents, stepProbe, storyModel, waitFor, type SseEvent } from './helpers.js';

const PROMPT = 'Once upon a time, there was a little girl named';

const probe = stepProbe();
const weft = createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: 1 } }), probe.plugin] });
let model: WeftModel;
/** Tokens greedy decoding of PROMPT generates when nothing stops it (the story ends with EOS). */
let wholeStory: number;

/** The done event of a generation run directly on the model (no server). */
const generateDirect = (request: GenerationRequest): Promise<DoneEvent> => doneOf(model, request);

beforeAll(async () => {
  model = await weft.load(storyModel);
  wholeStory = (await generateDirect({ prompt: PROMPT, maxTokens: 1000 })).usage.completionTokens;
});
afterAll(() => weft.dispose());

interface Started {
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

async function start(options: Partial<GenerationServerOptions> = {}): Promise<Started> {
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
  const url = await app.listen(0, '127.0.0.1');
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
function exchange(url: URL, text: string | readonly string[], { end = false, timeoutMs = 15_000 } = {}): Promise<string> {
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
function postHead(body: string, headers: Readonly<Record<string, string | number | undefined>> = {}): string {
  const all = { Host: '127.0.0.1', 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...headers };
  return `POST /v1/generate HTTP/1.1\r\n${Object.entries(all)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')}\r\n`;
}

/** A request with node:http, which (unlike fetch) may set Host and Origin. */
function send(
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

const tokenEvents = (events: readonly SseEvent[]) => events.filter((e) => e.event === 'message' && 'id' in e.data);

/** Reads a stream until it has `count` token events, and returns the iterator to read on. */
async function readTokens(response: Response, count: number): Promise<AsyncGenerator<SseEvent>> {
  const events = sseEvents(response);
  for (let seen = 0; seen < count; ) {
    const next = await events.next();
    if (next.done) throw new Error(`the stream ended after ${seen} tokens`);
    if (next.value.event !== 'message') throw new Error(`expected a token event, got ${JSON.stringify(next.value)}`);
    if ('id' in next.value.data) seen++;
  }
  return events;
}

describe('POST /v1/generate, streamed', () => {
  it('sends one data event per token, whose texts join into the done event text: model.text() greedy for the same prompt', async () => {
    const { app, post } = await start();
    const response = await post({ prompt: PROMPT, maxTokens: 60 });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const events = await allEvents(response);
    const last = events.at(-1)!;
    expect(last.event).toBe('done');
    expect(events.slice(0, -1).every((e) => e.event === 'message')).toBe(true);
    const tokens = tokenEvents(events);
    for (const { data } of tokens) {
      expect(Object.keys(data).sort()).toEqual(['id', 'text']);
      expect(Number.isInteger(data.id)).toBe(true);
      expect(typeof data.text).toBe('string');
    }
    const direct = await generateDirect({ prompt: PROMPT, maxTokens: 60 });
    expect(tokens.map((e) => e.data.id)).toEqual(direct.rows[0]!.ids);
    const joined = events.slice(0, -1).map((e) => e.data.text).join('');
    expect(joined).toBe(await model.text({ prompt: PROMPT, maxTokens: 60 }));
    expect(last.data).toEqual({
      text: joined,
      finishReason: 'length',
      usage: { promptTokens: direct.usage.promptTokens, completionTokens: 60, totalTokens: direct.usage.promptTokens + 60 },
      ttftMs: expect.any(Number),
      msPerToken: expect.any(Number),
    });
    expect(last.data.ttftMs).toBeGreaterThan(0);
    expect(app.inFlight()).toBe(0);
  });

  it('stop strings and chat messages: the stream ends where model.text() ends, with its finishReason', async () => {
    const { post } = await start();
    const stopped = await allEvents(await post({ prompt: PROMPT, maxTokens: 200, stop: ['. '] }));
    const expected = await model.text({ prompt: PROMPT, maxTokens: 200, stop: ['. '] });
    expect(stopped.at(-1)).toEqual({ event: 'done', data: expect.objectContaining({ text: expected, finishReason: 'stop' }) });
    expect(stopped.slice(0, -1).map((e) => e.data.text).join('')).toBe(expected);

    const messages = [{ role: 'user', content: 'Tell me a story about a cat named Tom.' }];
    const chat = await allEvents(await post({ messages, maxTokens: 40 }));
    const chatText = await model.text({ messages, maxTokens: 40 });
    expect(chat.slice(0, -1).map((e) => e.data.text).join('')).toBe(chatText);
    expect(chat.at(-1)!.data.text).toBe(chatText);
  });
});

describe('POST /v1/generate with "stream": false', () => {
  it('answers one JSON object with the text and the done facts', async () => {
    const { app, post } = await start();
    const response = await post({ prompt: PROMPT, maxTokens: 30, stream: false });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const body = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['finishReason', 'msPerToken', 'text', 'ttftMs', 'usage']);
    expect(body).toMatchObject({ text: await model.text({ prompt: PROMPT, maxTokens: 30 }), finishReason: 'length', usage: { completionTokens: 30 } });
    // Sampling options reach the model: a seed makes a sampled text repeatable.
    const sampling = { prompt: PROMPT, maxTokens: 30, temperature: 1.2, topK: 40, topP: 0.95, seed: 7 };
    const sampled = (await (await post({ ...sampling, stream: false })).json()) as { text: string };
    expect(sampled.text).toBe(await model.text(sampling));
    expect(sampled.text).not.toBe(body.text);
    expect(app.inFlight()).toBe(0);
  });
});

describe('a client that goes away', () => {
  it('mid-stream: the server aborts the generation, which stops within a step', async () => {
    const { app, post, events, info } = await start();
    probe.spinMs = 10; // ~10 ms a step: the story takes about two seconds, so the client leaves mid-story
    const client = new AbortController();
    const response = await post({ prompt: PROMPT, maxTokens: 1000 }, { signal: client.signal });
    await readTokens(response, 3);
    expect(app.inFlight()).toBe(1);
    client.abort();
    await waitFor(() => app.inFlight() === 0, 'the generation to end');
    const gone = events.find((e) => e.type === 'client-gone')!;
    const end = events.find((e) => e.type === 'end')!;
    expect(gone).toBeDefined();
    expect(end).toMatchObject({ why: 'client-gone', finishReason: 'abort' });
    // Stopped long before the end of the story, and within one forward pass of the disconnect.
    expect(end.tokens).toBeGreaterThanOrEqual(3);
    expect(end.tokens).toBeLessThan(wholeStory - 50);
    expect(end.steps - gone.steps).toBeLessThanOrEqual(1);
    expect(info).toContain(`#1 client went away after ${end.tokens} tokens; generation stopped (finishReason abort)`);
  });

  it('while waiting for a non-streamed answer: the same', async () => {
    const { app, post, events, info } = await start();
    probe.spinMs = 10;
    const client = new AbortController();
    const steps = probe.steps;
    const answer = post({ prompt: PROMPT, maxTokens: 1000, stream: false }, { signal: client.signal }).catch((error: unknown) => error);
    await waitFor(() => probe.steps >= steps + 3, 'the generation to start');
    client.abort();
    expect(await answer).toMatchObject({ name: 'AbortError' });
    await waitFor(() => app.inFlight() === 0, 'the generation to end');
    const gone = events.find((e) => e.type === 'client-gone')!;
    const end = events.find((e) => e.type === 'end')!;
    expect(end).toMatchObject({ why: 'client-gone', finishReason: 'abort' });
    expect(end.tokens).toBeLessThan(wholeStory - 50);
    expect(end.steps - gone.steps).toBeLessThanOrEqual(1);
    expect(info.some((line) => /^#1 client went away after \d+ tokens; generation stopped \(finishReason abort\)$/.test(line))).toBe(true);
  });

  it('while sending its body: nothing runs, nothing is logged as an error, and the server goes on', async () => {
    const { app, url, post, errors } = await start();
    const steps = probe.steps;
    const serverSide = new Promise<Socket>((resolve) => app.server.once('connection', resolve));
    const received = new Promise((resolve) => app.server.once('request', resolve));
    const socket = connect(Number(url.port), '127.0.0.1');
    socket.write('POST /v1/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"prompt": "Once');
    await received;
    const closed = new Promise((resolve) => void serverSide.then((s) => s.once('close', resolve)));
    socket.destroy();
    await closed;
    const answer = await post({ prompt: 'Once', maxTokens: 3, stream: false });
    expect(answer.status).toBe(200);
    expect(probe.steps - steps).toBe(3);
    expect(errors).toEqual([]);
  });
});

describe('bad input', () => {
  const cases: [string, string, string | RegExp, string?][] = [
    ['not JSON', '{"prompt": "Once', 'body'],
    ['a JSON list', '[1, 2]', 'body'],
    ['JSON null', 'null', 'body'],
    ['an unknown field, with the right spelling suggested', '{"prompt": "Once", "max_tokens": 5}', 'max_tokens', 'did you mean "maxTokens"?'],
    ['a field the API does not take (inputIds)', '{"inputIds": [1, 2]}', 'inputIds'],
    ['neither prompt nor messages', '{"maxTokens": 5}', 'prompt', 'Give exactly one of prompt or messages (got neither).'],
    ['both prompt and messages', '{"prompt": "Once", "messages": [{"role": "user", "content": "hi"}]}', 'prompt', '(got both)'],
    ['a list of prompts (a batch)', '{"prompt": ["Once", "Tom"]}', 'prompt', 'one text per request'],
    ['a list of conversations', '{"messages": [[{"role": "user", "content": "hi"}]]}', 'messages', 'one conversation'],
    ['a message without content', '{"messages": [{"role": "user"}]}', 'messages'],
    ['maxTokens 0', '{"prompt": "Once", "maxTokens": 0}', 'maxTokens'],
    ['temperature below 0', '{"prompt": "Once", "temperature": -1}', 'temperature'],
    ['topK not a whole number', '{"prompt": "Once", "topK": 1.5}', 'topK'],
    ['topP above 1', '{"prompt": "Once", "topP": 2}', 'topP'],
    ['seed not a number', '{"prompt": "Once", "seed": "a"}', 'seed'],
    ['an empty stop string', '{"prompt": "Once", "stop": [""]}', 'stop'],
    ['17 stop strings', JSON.stringify({ prompt: 'Once', stop: Array.from({ length: 17 }, (_, i) => `s${i}`) }), 'stop', 'stop takes at most 16 strings (got 17).'],
    ['4096 stop strings', JSON.stringify({ prompt: 'Once', stop: Array.from({ length: 4096 }, (_, i) => `s${i}`) }), 'stop', 'at most 16 strings'],
    ['a stop string of 201 characters', JSON.stringify({ prompt: 'Once', stop: ['. ', 'x'.repeat(201)] }), 'stop', 'at most 200 characters long (got 201)'],
    ['stream not a boolean', '{"prompt": "Once", "stream": "yes"}', 'stream'],
  ];

  it.each(cases)('%s: 400 with an InvalidOptionsError naming the field, streamed or not, and no forward pass', async (_, body, option, message) => {
    const { app, post } = await start();
    const steps = probe.steps;
    const modes = body.includes('"stream"') || !body.trimStart().startsWith('{"') ? [body] : [body, body.replace(/^\{/, '{"stream": false, ')];
    for (const sent of modes) {
      const response = await post(sent);
      expect(response.status, sent).toBe(400);
      expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
      const { error } = (await response.json()) as { error: { type: string; message: string; option?: string } };
      expect(error).toEqual({ type: 'InvalidOptionsError', message: expect.any(String), option });
      if (message !== undefined) expect(error.message).toContain(message);
    }
    expect(probe.steps).toBe(steps);
    expect(app.inFlight()).toBe(0);
  });

  it('a prompt longer than the context: 400 ContextOverflowError with the counts', async () => {
    const { app, post } = await start();
    for (const stream of [true, false]) {
      const response = await post({ prompt: 'Once upon a time there was a cat. '.repeat(150), stream });
      expect(response.status).toBe(400);
      const { error } = (await response.json()) as { error: Record<string, unknown> };
      expect(error).toMatchObject({ type: 'ContextOverflowError', contextLength: 1024, message: expect.stringContaining('shorten the prompt') });
      expect(error.promptTokens).toBeGreaterThanOrEqual(1024);
    }
    expect(app.inFlight()).toBe(0);
  });

  it('a body that is not UTF-8: 400; a body over maxBodyBytes: 413', async () => {
    const { post } = await start({ maxBodyBytes: 1000 });
    const notUtf8 = await post(new Blob([new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])]));
    expect(notUtf8.status).toBe(400);
    expect(await notUtf8.json()).toEqual({ error: { type: 'InvalidOptionsError', message: 'The body is not valid UTF-8.', option: 'body' } });
    const large = await post({ prompt: 'x'.repeat(2000) });
    expect(large.status).toBe(413);
    expect(await large.json()).toEqual({ error: { type: 'PayloadTooLarge', message: 'The body is larger than 1000 bytes.' } });
  });
});

describe('a failure inside the generation', () => {
  it('is a 500, or an error event once the stream has started, saying nothing of the internals; the log has them', async () => {
    const { app, post, errors } = await start();
    const secret = 'secret detail at /home/someone/models/x.onnx';
    probe.failWith = secret;
    const answer = await post({ prompt: PROMPT, maxTokens: 20, stream: false });
    expect(answer.status).toBe(500);
    const text = await answer.text();
    expect(JSON.parse(text)).toEqual({ error: { type: 'InternalError', message: 'The generation failed; the server log has the details (request #1).' } });

    const streamed = await post({ prompt: PROMPT, maxTokens: 20 });
    expect(streamed.status).toBe(200); // the request passed Weft's checks: the stream had started
    const events = await allEvents(streamed);
    expect(events.at(-1)).toEqual({ event: 'error', data: { error: { type: 'InternalError', message: 'The generation failed; the server log has the details (request #2).' } } });
    expect(events.some((e) => e.event === 'done')).toBe(false);
    expect(JSON.stringify(events)).not.toContain('secret');
    expect(text).not.toContain('secret');
    // The log has the error with its stack: the PluginError naming the plugin, caused by the hook's error.
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^#1 failed: PluginError: Plugin "test-step-probe" failed in afterForward: .*secret detail/);
    expect(errors[0]).toMatch(/\n\s+at /);
    expect(errors[1]).toMatch(/^#2 failed mid-stream: PluginError/);
    expect(app.inFlight()).toBe(0);
  });
});

describe('the bound on concurrent generations', () => {
  it('beyond maxConcurrent a request is answered 429 with Retry-After; an ended generation frees its slot', async () => {
    const { app, url, post } = await start({ maxConcurrent: 2, retryAfterSeconds: 3 });
    probe.spinMs = 10;
    const clients = [new AbortController(), new AbortController()];
    for (const client of clients) await readTokens(await post({ prompt: PROMPT, maxTokens: 1000 }, { signal: client.signal }), 1);
    expect(app.inFlight()).toBe(2);
    const health = (await (await fetch(new URL('/healthz', url))).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ inFlight: 2, maxConcurrent: 2, model: { activeRuns: 2 } });
    for (const stream of [true, false]) {
      const refused = await post({ prompt: PROMPT, maxTokens: 5, stream });
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('3');
      expect(await refused.json()).toMatchObject({ error: { type: 'TooManyRequests' } });
    }
    clients[0]!.abort();
    await waitFor(() => app.inFlight() === 1, 'a slot to free');
    probe.spinMs = 0;
    const admitted = await post({ prompt: PROMPT, maxTokens: 5, stream: false });
    expect(admitted.status).toBe(200);
    expect(await admitted.json()).toMatchObject({ finishReason: 'length', usage: { completionTokens: 5 } });
    clients[1]!.abort();
    await waitFor(() => app.inFlight() === 0, 'the other generation to end');
  });
});

describe('routes', () => {
  it('unknown paths are 404, wrong methods 405 with Allow', async () => {
    const { url } = await start();
    for (const [method, path] of [['GET', '/'], ['POST', '/v1/generat'], ['GET', '/v1/generate/x']] as const) {
      const response = await fetch(new URL(path, url), { method });
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(await response.json()).toMatchObject({ error: { type: 'NotFound' } });
    }
    for (const [method, path, allow] of [['GET', '/v1/generate', 'POST'], ['PUT', '/v1/generate', 'POST'], ['POST', '/healthz', 'GET, HEAD'], ['DELETE', '/healthz', 'GET, HEAD']] as const) {
      const response = await fetch(new URL(path, url), { method });
      expect(response.status, `${method} ${path}`).toBe(405);
      expect(response.headers.get('allow')).toBe(allow);
      expect(await response.json()).toMatchObject({ error: { type: 'MethodNotAllowed' } });
    }
  });

  it('GET /healthz reports the model, its backend and the generations in flight', async () => {
    const { url } = await start();
    const response = await fetch(new URL('/healthz?verbose', url));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: 'ok',
      model: { path: storyModel, graphFile: 'onnx/model.onnx', backend: 'node', modelType: 'llama', contextLength: 1024, activeRuns: 0 },
      inFlight: 0,
      maxConcurrent: 4,
    });
    const head = await fetch(new URL('/healthz', url), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });
});

describe('close()', () => {
  it('aborts the streams in flight, which end with their done event (finishReason abort), resolves, and closes the port', async () => {
    const { app, url, post, events, info } = await start();
    probe.spinMs = 10;
    const rest = await readTokens(await post({ prompt: PROMPT, maxTokens: 1000 }), 2);
    const closed = app.close();
    const remaining: SseEvent[] = [];
    for await (const event of rest) remaining.push(event);
    await closed;
    const done = remaining.at(-1)!;
    expect(done.event).toBe('done');
    expect(done.data).toMatchObject({ finishReason: 'abort' });
    const tokens = (done.data.usage as { completionTokens: number }).completionTokens;
    expect(tokens).toBeLessThan(wholeStory - 50);
    expect(events.find((e) => e.type === 'end')).toMatchObject({ why: 'shutdown', finishReason: 'abort', tokens });
    expect(info).toContain(`#1 shutting down: generation stopped after ${tokens} tokens`);
    expect(app.inFlight()).toBe(0);
    expect(app.server.listening).toBe(false);
    await expect(fetch(new URL('/healthz', url))).rejects.toThrow();
    await app.close(); // idempotent
  });

  it('answers 503 to a request sent on an idle connection as it is called, before reading its body; then closes that connection and unused ones', async () => {
    const { app, url } = await start({ idleGraceMs: 500 });
    const socket = connect(Number(url.port), '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await waitFor(() => received.includes('"status":"ok"'), 'the health answer');
    const accepted = new Promise((resolve) => app.server.once('connection', resolve));
    const unused = connect(Number(url.port), '127.0.0.1');
    const unusedClosed = new Promise((resolve) => unused.once('close', resolve));
    await accepted;
    const closing = app.close();
    socket.write(postHead('', { 'Content-Length': 1000 })); // the head alone
    await Promise.all([closing, closed, unusedClosed]);
    const second = received.slice(received.indexOf('HTTP/1.1', 1));
    expect(second).toMatch(/^HTTP\/1.1 503 Service Unavailable\r\n/);
    expect(second).toMatch(/\r\nConnection: close\r\n/);
    expect(second).toContain('{"error":{"type":"ServiceUnavailable","message":"The server is shutting down."}}');
    expect(app.server.listening).toBe(false);
  });
});

describe('hostile clients', () => {
  const small = JSON.stringify({ prompt: 'Once', maxTokens: 2, stream: false });

  it('stop: 16 strings of 200 characters are taken (more is a 400, see "bad input")', async () => {
    const { post } = await start();
    const stop = Array.from({ length: 16 }, (_, i) => `${i}`.padEnd(200, 'z'));
    const response = await post({ prompt: PROMPT, maxTokens: 3, stop, stream: false });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ finishReason: 'length', usage: { completionTokens: 3 } });
  });

  it('a busy server answers 429 before reading the body, and closes the connection', async () => {
    const { app, url, post } = await start({ maxConcurrent: 1 });
    probe.spinMs = 10;
    const client = new AbortController();
    await readTokens(await post({ prompt: PROMPT, maxTokens: 1000 }, { signal: client.signal }), 1);
    // The head of a 1 MB body, and not a byte of it: the answer comes all the same.
    const answer = await exchange(url, postHead('', { 'Content-Length': 1_000_000 }));
    expect(answer).toMatch(/^HTTP\/1.1 429 Too Many Requests\r\n/);
    expect(answer).toMatch(/\r\nConnection: close\r\n/);
    expect(answer).toMatch(/\r\nRetry-After: 1\r\n/);
    client.abort();
    await waitFor(() => app.inFlight() === 0, 'the generation to end');
  });

  it('at most maxBodiesReading bodies are read at once: the next request is answered 429 at once', async () => {
    const { url, post, app } = await start({ maxBodiesReading: 1 });
    const received = new Promise((resolve) => app.server.once('request', resolve));
    const slow = connect(Number(url.port), '127.0.0.1');
    let slowAnswer = '';
    slow.on('data', (chunk: Buffer) => (slowAnswer += chunk.toString()));
    const slowClosed = new Promise((resolve) => slow.once('close', resolve));
    slow.write(postHead(small, { Connection: 'close' }) + small.slice(0, 5));
    await received;
    const refused = await post(small);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('connection')).toBe('close');
    expect(await refused.json()).toMatchObject({ error: { type: 'TooManyRequests', message: 'The server is receiving 1 request bodies, the most it reads at once; retry in 1 s.' } });
    slow.write(small.slice(5));
    await slowClosed;
    expect(slowAnswer).toMatch(/^HTTP\/1.1 200 OK\r\n/);
    expect((await post(small)).status).toBe(200);
  });

  it('timeouts: a connection slow to send its headers or its body, or that sends nothing, gets 408 and is closed; a long answer is not cut', async () => {
    const { url, post, app, errors } = await start({ headersTimeoutMs: 300, requestTimeoutMs: 600 });
    const [headers, body, unused] = await Promise.all([
      exchange(url, 'POST /v1/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a'),
      exchange(url, postHead('', { 'Content-Length': 100 }) + '{"prompt"'),
      exchange(url, ''),
    ]);
    expect(headers).toMatch(/^HTTP\/1.1 408 Request Timeout\r\n/);
    expect(body).toMatch(/^HTTP\/1.1 408 Request Timeout\r\n/);
    expect(unused).toMatch(/^HTTP\/1.1 408 Request Timeout\r\n/);
    // A generation longer than requestTimeoutMs, with no byte written until its end.
    probe.spinMs = 8;
    const response = await post({ prompt: PROMPT, maxTokens: 120, stream: false });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ finishReason: 'length', usage: { completionTokens: 120 } });
    expect(app.inFlight()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('defaults: headersTimeout 10 s, requestTimeout 30 s, 256 connections; past maxConnections a connection is closed unanswered', async () => {
    const { app, url } = await start({ maxConnections: 2 });
    expect(app.server).toMatchObject({ headersTimeout: 10_000, requestTimeout: 30_000 });
    expect((await start()).app.server.maxConnections).toBe(256);
    let accepted = 0;
    app.server.on('connection', () => accepted++);
    const open = [connect(Number(url.port), '127.0.0.1'), connect(Number(url.port), '127.0.0.1')];
    try {
      await waitFor(() => accepted === 2, 'two connections');
      expect(await exchange(url, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')).toBe('');
    } finally {
      for (const socket of open) socket.destroy();
    }
  });

  it('refuses what a web page could send: a body not sent as JSON (415), a foreign Host or Origin (403)', async () => {
    const { url } = await start({ allowedHosts: ['My-Box.lan'] });
    const port = url.port;
    const json = { 'Content-Type': 'application/json' };
    const steps = probe.steps;
    const refused: [Record<string, string>, number, string][] = [
      [{ 'Content-Type': 'text/plain' }, 415, 'The body must be JSON in UTF-8, sent with Content-Type: application/json (got "text/plain").'],
      [{}, 415, 'got no Content-Type'],
      [{ 'Content-Type': 'application/x-www-form-urlencoded' }, 415, 'application/x-www-form-urlencoded'],
      [{ 'Content-Type': 'application/json; charset=latin1' }, 415, 'charset=latin1'],
      [{ ...json, 'Content-Encoding': 'gzip' }, 415, 'Content-Encoding "gzip" is not supported: send the body uncompressed.'],
      [{ ...json, Host: `evil.example:${port}` }, 403, `Host "evil.example:${port}" is not a name of this server (localhost, 127.0.0.1, [::1], my-box.lan)`],
      [{ ...json, Host: `127.0.0.1.evil.example:${port}` }, 403, 'is not a name of this server'],
      [{ ...json, Origin: 'https://evil.example' }, 403, 'Requests from web pages of another origin are refused (Origin "https://evil.example").'],
      [{ ...json, Origin: 'null' }, 403, 'Origin "null"'],
      [{ ...json, Origin: `http://localhost:${port}` }, 403, 'another origin'],
    ];
    for (const [headers, status, message] of refused) {
      const answer = await send(url, { headers, body: small });
      expect(answer.status, JSON.stringify(headers)).toBe(status);
      expect(JSON.parse(answer.body).error.message).toContain(message);
    }
    expect((await send(url, { method: 'GET', path: '/healthz', headers: { Host: 'evil.example' } })).status).toBe(403);
    expect(probe.steps).toBe(steps);
    const taken: Record<string, string>[] = [
      { 'Content-Type': 'Application/JSON; charset="UTF-8"' },
      { ...json, 'Content-Encoding': 'identity' },
      { ...json, Host: `localhost:${port}` },
      { ...json, Host: `[::1]:${port}` },
      { ...json, Host: 'my-box.lan' },
      { ...json, Origin: `http://127.0.0.1:${port}` },
    ];
    for (const headers of taken) expect((await send(url, { headers, body: small })).status, JSON.stringify(headers)).toBe(200);
  });

  it('a request target that is not a path is a 400, and nothing is logged; // starts a path, not a host', async () => {
    const { url, errors } = await start();
    const bad = await exchange(url, 'GET //[ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    expect(bad).toMatch(/^HTTP\/1.1 400 Bad Request\r\n/);
    expect(bad).toContain('{"error":{"type":"BadRequest","message":"The request target \\"//[\\" is not a path such as /v1/generate."}}');
    const slashes = await send(url, { path: '//v1/generate', headers: { 'Content-Type': 'application/json' }, body: small });
    expect(slashes.status).toBe(404);
    expect(JSON.parse(slashes.body).error.message).toBe('No route //v1/generate: POST /v1/generate, GET /healthz.');
    const long = await send(url, { method: 'GET', path: `/${'a'.repeat(5000)}` });
    expect(long.status).toBe(404);
    expect(long.body.length).toBeLessThan(400);
    expect(errors).toEqual([]);
  });

  it('a client that half-closes its side after its request counts as gone (see the README)', async () => {
    const { app, url, events, errors } = await start();
    probe.spinMs = 5;
    const body = JSON.stringify({ prompt: PROMPT, maxTokens: 1000, stream: false });
    expect(await exchange(url, postHead(body) + body, { end: true })).toBe('');
    await waitFor(() => events.some((e) => e.type === 'end'), 'the generation to end');
    expect(events.find((e) => e.type === 'end')).toMatchObject({ why: 'client-gone', finishReason: 'abort' });
    expect(app.inFlight()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('a body over maxBodyBytes: the 413 comes at once, the rest is read and dropped (a client still sending it reads the 413); a declared length far over it closes the connection', async () => {
    const { url } = await start({ maxBodyBytes: 64 * 1024 });
    for (const chunked of [false, true]) {
      const total = 2 * 1024 * 1024;
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const headers: Record<string, string | number> = { 'Content-Type': 'application/json', ...(chunked ? {} : { 'Content-Length': total }) };
        const req = httpRequest({ host: '127.0.0.1', port: Number(url.port), method: 'POST', path: '/v1/generate', headers, agent: false }, (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body: text }));
        });
        req.on('error', reject);
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        let sent = 0;
        const pump = (): void => {
          while (sent < total) {
            sent += chunk.length;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          req.end();
        };
        pump();
      });
      expect(answer, chunked ? 'chunked' : 'Content-Length').toEqual({ status: 413, body: '{"error":{"type":"PayloadTooLarge","message":"The body is larger than 65536 bytes."}}\n' });
    }
    // The rest of the body is read and dropped: the connection then takes the next request.
    for (const chunked of [false, true]) {
      const rest = ' '.repeat(200 * 1024);
      const head = chunked ? postHead('', { 'Content-Length': undefined, 'Transfer-Encoding': 'chunked' }) : postHead(rest);
      const body = chunked ? `${rest.length.toString(16)}\r\n${rest}\r\n0\r\n\r\n` : rest;
      const answers = await exchange(url, [head, body, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n']);
      expect(answers).toMatch(/^HTTP\/1.1 413 Payload Too Large\r\n/);
      expect(answers).toMatch(/\}\nHTTP\/1.1 200 OK\r\n[^]*"status":"ok"/);
    }
    const huge = await exchange(url, postHead('', { 'Content-Length': 100_000_000 }));
    expect(huge).toMatch(/^HTTP\/1.1 413 Payload Too Large\r\n/);
    expect(huge).toMatch(/\r\nConnection: close\r\n/);
  });

  it('an error answer echoes what the client sent at a bounded length', async () => {
    const plain = createServer((_, res) => sendWeftError(res, new InvalidOptionsError('Bad.', { option: 'k'.repeat(500_000) }), 1, { info() {}, error() {} }));
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = plain.address() as { port: number };
      const { error } = (await (await fetch(`http://127.0.0.1:${port}/`)).json()) as { error: { option: string } };
      expect(error.option).toBe(`${'k'.repeat(199)}…`);
    } finally {
      plain.closeAllConnections();
      await new Promise((resolve) => plain.close(resolve));
    }
    const { post } = await start();
    const response = await post(`{"prompt": "Tom", ${JSON.stringify('k'.repeat(500_000))}: 1}`);
    expect(response.status).toBe(400);
    expect((await response.text()).length).toBeLessThan(1000);
  });
});
