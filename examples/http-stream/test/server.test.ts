/**
 * The HTTP server on models/story, over real HTTP on 127.0.0.1 with Node's fetch. The model's
 * runtime has a plugin that counts forward passes (and can slow them down or make them fail), so
 * the tests can see when a generation runs and when it stops.
 */
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { allEvents, storyModel, waitFor, type SseEvent } from './helpers.js';
import { PROMPT, probe, model, wholeStory, generateDirect, start, postHead, tokenEvents, readTokens } from './server-kit.js';

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
