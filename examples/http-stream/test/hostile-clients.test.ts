/**
 * The HTTP server against hostile clients: what it refuses before reading a body, slow and
 * oversized requests, cross-origin and malformed requests, and its shutdown grace.
 */
import { createServer, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { InvalidOptionsError } from '@weft/core';
import { describe, expect, it } from 'vitest';
import { sendWeftError } from '../src/http-io.js';
import { DRAIN_BYTES } from '../src/server.js';
import { waitFor } from './helpers.js';
import { PROMPT, probe, start, exchange, flood, postHead, send, readTokens } from './server-kit.js';

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

  it('Expect: 100-continue: a busy server answers 429 without inviting the body; an idle one invites it and answers', async () => {
    const { app, url, post } = await start({ maxConcurrent: 1 });
    // Idle: "100 Continue" first, then the body is sent and answered.
    const socket = connect(Number(url.port), '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.write(postHead(small, { Expect: '100-continue', Connection: 'close' }));
    await waitFor(() => received.includes('100 Continue'), 'the 100 Continue');
    socket.write(small);
    await closed;
    expect(received).toMatch(/^HTTP\/1.1 100 Continue\r\n\r\nHTTP\/1.1 200 OK\r\n/);
    // Busy: the 429 only (before, node:http sent 100 Continue first, inviting a body it then refused).
    probe.spinMs = 10;
    const client = new AbortController();
    await readTokens(await post({ prompt: PROMPT, maxTokens: 1000 }, { signal: client.signal }), 1);
    const answer = await exchange(url, postHead('', { 'Content-Length': 1000, Expect: '100-continue' }));
    expect(answer).toMatch(/^HTTP\/1.1 429 Too Many Requests\r\n/);
    expect(answer).not.toMatch(/100 Continue/);
    client.abort();
    await waitFor(() => app.inFlight() === 0, 'the generation to end');
  });

  it('Expect: 100-continue with a declared Content-Length over maxBodyBytes: the 413 without inviting the body, and the connection closes', async () => {
    const limit = 64 * 1024;
    const { url } = await start({ maxBodyBytes: limit });
    for (const headers of [{ Connection: 'close' }, {}]) {
      const answer = await exchange(url, postHead('', { 'Content-Length': limit + 1, Expect: '100-continue', ...headers }));
      expect(answer, JSON.stringify(headers)).toMatch(/^HTTP\/1.1 413 Payload Too Large\r\n/);
      expect(answer).not.toMatch(/100 Continue/);
      expect(answer).toMatch(/\r\nConnection: close\r\n/);
    }
    // At the limit, it is invited.
    const socket = connect(Number(url.port), '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    socket.write(postHead('', { 'Content-Length': limit, Expect: '100-continue' }));
    try {
      await waitFor(() => received.length > 0, 'an answer');
      expect(received).toMatch(/^HTTP\/1.1 100 Continue\r\n/);
    } finally {
      socket.destroy();
    }
  });

  it('the body of a request answered without it (403, 404, 405, 200 for /healthz) is dropped within DRAIN_BYTES: a flood is cut off, a declared length over it closes the connection unread', async () => {
    const { url } = await start({ requestTimeoutMs: 120_000, headersTimeoutMs: 60_000 });
    const limit = DRAIN_BYTES + 24 * 1024 * 1024;
    const head = (line: string, headers: string) => `${line} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${headers}\r\n`;
    const chunked = 'Transfer-Encoding: chunked\r\n';
    const declared = 'Content-Length: 100000000000\r\n';
    const cases: [string, string, boolean, RegExp][] = [
      ['POST /nope', chunked, true, /^HTTP\/1.1 404 Not Found\r\n/],
      ['POST /nope', declared, false, /^HTTP\/1.1 404 Not Found\r\n[^]*Connection: close\r\n/],
      ['POST /healthz', chunked, true, /^HTTP\/1.1 405 Method Not Allowed\r\n/],
      ['GET /healthz', chunked, true, /^HTTP\/1.1 200 OK\r\n/],
      ['GET /v1/generate', declared, false, /^HTTP\/1.1 405 Method Not Allowed\r\n/],
      ['POST http://evil.example/v1/generate', chunked, true, /^HTTP\/1.1 403 Forbidden\r\n/],
      ['POST /v1/generate?x', `${chunked}Origin: https://evil.example\r\n`, true, /^HTTP\/1.1 403 Forbidden\r\n/],
    ];
    for (const [line, headers, isChunked, status] of cases) {
      const result = await flood(url, head(line, headers), { chunked: isChunked, limit });
      expect(result.open, `${line} ${headers}`).toBe(false);
      expect(result.answer, `${line} ${headers}`).toMatch(status);
    }
    // A small body is dropped, and the connection takes the next request.
    const answers = await exchange(url, [head('POST /nope', 'Content-Length: 5\r\n'), '12345', 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n']);
    expect(answers).toMatch(/^HTTP\/1.1 404 Not Found\r\n[^]*\}\nHTTP\/1.1 200 OK\r\n/);
  });

  it('an absolute-form target: its host stands for the Host header (403 when foreign, also for Origin), and its path is taken as sent, as an origin-form one', async () => {
    const { url, info } = await start();
    const port = url.port;
    const get = (target: string, host = '127.0.0.1') => exchange(url, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    const foreign = await get('http://evil.example/healthz');
    expect(foreign).toMatch(/^HTTP\/1.1 403 Forbidden\r\n/);
    expect(foreign).toContain(`The request target's host \\"evil.example\\" is not a name of this server`);
    expect(info.at(-1)).toMatch(/^#\d+ GET http:\/\/evil\.example\/healthz refused \(403\): The request target's host "evil\.example"/);
    expect(await get('HTTP://localhost@evil.example/healthz')).toMatch(/^HTTP\/1.1 403 Forbidden\r\n/);
    // RFC 9112: the target's host, not the Host header.
    expect(await get(`http://localhost:${port}/healthz`, 'evil.example')).toMatch(/^HTTP\/1.1 200 OK\r\n/);
    expect(await get(`http://127.0.0.1:${port}/healthz?x`)).toMatch(/^HTTP\/1.1 200 OK\r\n/);
    expect(await get(`http://127.0.0.1:${port}`)).toMatch(/^HTTP\/1.1 404 Not Found\r\n[^]*No route \/:/);
    // Dot-segments are not resolved, in either form.
    for (const target of [`http://127.0.0.1:${port}/v1/../healthz`, '/v1/../healthz']) {
      expect(await get(target), target).toMatch(/^HTTP\/1.1 404 Not Found\r\n[^]*No route \/v1\/\.\.\/healthz:/);
    }
    // The Origin is compared with the target's host.
    const json = { 'Content-Type': 'application/json' };
    const origin = (target: string, host: string) =>
      exchange(url, postHead(small, { ...json, Host: host, Origin: `http://localhost:${port}`, Connection: 'close' }).replace('/v1/generate', target) + small);
    expect(await origin(`http://localhost:${port}/v1/generate`, `127.0.0.1:${port}`)).toMatch(/^HTTP\/1.1 200 OK\r\n/);
    expect(await origin(`http://127.0.0.1:${port}/v1/generate`, `localhost:${port}`)).toMatch(/^HTTP\/1.1 403 Forbidden\r\n[^]*another origin/);
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
    const { url, info } = await start({ allowedHosts: ['My-Box.lan'] });
    const port = url.port;
    const json = { 'Content-Type': 'application/json' };
    const steps = probe.steps;
    const refused: [Record<string, string>, number, string][] = [
      [{ 'Content-Type': 'text/plain' }, 415, 'The body must be JSON in UTF-8, sent with Content-Type: application/json (got "text/plain").'],
      [{}, 415, 'got no Content-Type'],
      [{ 'Content-Type': 'application/x-www-form-urlencoded' }, 415, 'application/x-www-form-urlencoded'],
      [{ 'Content-Type': 'application/json; charset=latin1' }, 415, 'charset=latin1'],
      [{ ...json, 'Content-Encoding': 'gzip' }, 415, 'Content-Encoding "gzip" is not supported: send the body uncompressed.'],
      [{ ...json, Host: `evil.example:${port}` }, 403, `Host "evil.example:${port}" is not a name of this server (localhost, 127.0.0.1, [::1], my-box.lan, or an IP address)`],
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
    // Each 403 is logged with what was refused.
    expect(info.filter((line) => line.includes('refused'))).toEqual([
      expect.stringMatching(new RegExp(`^#\\d+ POST /v1/generate refused \\(403\\): Host "evil\\.example:${port}" is not a name of this server`)),
      expect.stringContaining(`Host "127.0.0.1.evil.example:${port}"`),
      expect.stringContaining('(Origin "https://evil.example")'),
      expect.stringContaining('(Origin "null")'),
      expect.stringContaining(`(Origin "http://localhost:${port}")`),
      expect.stringMatching(/^#\d+ GET \/healthz refused \(403\): Host "evil\.example"/),
    ]);
    const taken: Record<string, string>[] = [
      { 'Content-Type': 'Application/JSON; charset="UTF-8"' },
      { ...json, 'Content-Encoding': 'identity' },
      { ...json, Host: `localhost:${port}` },
      { ...json, Host: `[::1]:${port}` },
      { ...json, Host: 'my-box.lan' },
      { ...json, Host: `10.0.0.7:${port}` }, // an IP address: DNS rebinding needs a name
      { ...json, Origin: `http://127.0.0.1:${port}` },
    ];
    for (const headers of taken) expect((await send(url, { headers, body: small })).status, JSON.stringify(headers)).toBe(200);
  });

  it('on a wildcard address (0.0.0.0) without allowedHosts, any IP address is taken as Host, as the printed URL; a DNS name is refused and logged; Origin is still checked', async () => {
    const { url, info } = await start({}, '0.0.0.0');
    expect(url.href).toBe(`http://127.0.0.1:${url.port}/`);
    const port = url.port;
    // The wildcard address itself (curl http://0.0.0.0:PORT/), the machine's addresses (a health check by the pod's IP)…
    for (const host of [`0.0.0.0:${port}`, `10.1.2.3:${port}`, '192.168.1.5', `[fe80::1]:${port}`, `[::]:${port}`, `127.0.0.1:${port}`]) {
      expect((await send(url, { method: 'GET', path: '/healthz', headers: { Host: host } })).status, host).toBe(200);
    }
    const json = { 'Content-Type': 'application/json' };
    expect((await send(url, { headers: { ...json, Host: `10.1.2.3:${port}`, Origin: `http://10.1.2.3:${port}` }, body: small })).status).toBe(200);
    const foreign = await send(url, { headers: { ...json, Host: `10.1.2.3:${port}`, Origin: 'https://evil.example' }, body: small });
    expect(foreign.status).toBe(403);
    const named = await send(url, { method: 'GET', path: '/healthz', headers: { Host: `box.lan:${port}` } });
    expect(named.status).toBe(403);
    expect(JSON.parse(named.body).error.message).toBe(
      `Host "box.lan:${port}" is not a name of this server (localhost, 127.0.0.1, [::1], or an IP address); add it with allowedHosts (--allowed-hosts).`,
    );
    expect(info.filter((line) => line.includes('refused'))).toEqual([
      expect.stringMatching(/^#\d+ POST \/v1\/generate refused \(403\): Requests from web pages of another origin are refused \(Origin "https:\/\/evil\.example"\)\.$/),
      expect.stringMatching(new RegExp(`^#\\d+ GET /healthz refused \\(403\\): Host "box\\.lan:${port}" is not a name of this server`)),
    ]);
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

  it('a body of maxBodyBytes + DRAIN_BYTES, declared or chunked, sent in full on a keep-alive connection: the 413, then the same connection takes the next request; a declared byte more closes it unread', async () => {
    const limit = 64 * 1024;
    const { url } = await start({ maxBodyBytes: limit });
    const rest = ' '.repeat(limit + DRAIN_BYTES);
    for (const chunked of [false, true]) {
      const head = chunked ? postHead('', { 'Content-Length': undefined, 'Transfer-Encoding': 'chunked' }) : postHead(rest);
      const body = chunked ? [`${rest.length.toString(16)}\r\n`, rest, '\r\n0\r\n\r\n'] : [rest];
      const answers = await exchange(url, [head, ...body, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n']);
      expect(answers, chunked ? 'chunked' : 'Content-Length').toMatch(/^HTTP\/1.1 413 Payload Too Large\r\n/);
      expect(answers, chunked ? 'chunked' : 'Content-Length').toMatch(/\}\nHTTP\/1.1 200 OK\r\n[^]*"status":"ok"/);
    }
    const over = await exchange(url, postHead('', { 'Content-Length': limit + DRAIN_BYTES + 1 }));
    expect(over).toMatch(/^HTTP\/1.1 413 Payload Too Large\r\n/);
    expect(over).toMatch(/\r\nConnection: close\r\n/);
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
