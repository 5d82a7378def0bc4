/**
 * `serve()` (load, listen, shut down), the command line, and `node dist/main.js` as a process:
 * SIGTERM and SIGINT shut it down and it exits 0. The process tests compile the example first
 * (`tsc -p examples/http-stream`, as `pnpm start` does), which needs the packages built
 * (`npx pnpm@10 build`); without them they are skipped.
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { get } from 'node:http';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { nodeBackend } from '@weft/backend-node';
import { createWeft, ModelDisposedError } from '@weft/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_DIR, parseConfig, UsageError } from '../src/config.js';
import { serve } from '../src/serve.js';
import { allEvents, doneOf, sseEvents, storyModel, waitFor, type SseEvent } from './helpers.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const example = join(repo, 'examples/http-stream');
const built = existsSync(join(repo, 'packages/core/dist/index.js')) && existsSync(join(repo, 'packages/backends/node/dist/index.js'));
/** The Content-Type the server requires of a body. */
const JSON_BODY = { 'Content-Type': 'application/json' };
if (!built) console.warn('[http-stream test] packages/*/dist is missing (npx pnpm@10 build): the tests of node dist/main.js are skipped.');

describe('parseConfig', () => {
  it('defaults: models/story, 127.0.0.1:8080, 4 at once', () => {
    expect(DEFAULT_MODEL_DIR).toBe(storyModel);
    expect(parseConfig([], {})).toEqual({ modelDir: storyModel, port: 8080, host: '127.0.0.1', allowedHosts: [], maxConcurrent: 4, threads: undefined });
    expect(parseConfig(['--help'], {})).toBe('help');
    // `pnpm start -- --port 9000` passes the `--` through.
    expect(parseConfig(['--', '--port', '9000'], {})).toMatchObject({ port: 9000 });
  });

  it('flags win over environment variables; a relative --model is relative to where the command was typed', () => {
    const env = { WEFT_MODEL: '/models/a', PORT: '9000', HOST: '0.0.0.0', WEFT_ALLOWED_HOSTS: 'box.lan, 192.168.1.5', WEFT_MAX_CONCURRENT: '2', WEFT_THREADS: '3' };
    expect(parseConfig([], env, '/work')).toEqual({
      modelDir: '/models/a',
      port: 9000,
      host: '0.0.0.0',
      allowedHosts: ['box.lan', '192.168.1.5'],
      maxConcurrent: 2,
      threads: 3,
    });
    const argv = ['--model', 'm', '--port', '0', '--host', '::1', '--allowed-hosts', 'other.lan', '--max-concurrent', '8', '--threads', '1'];
    expect(parseConfig(argv, env, '/work')).toEqual({
      modelDir: resolve('/work/m'),
      port: 0,
      host: '::1',
      allowedHosts: ['other.lan'],
      maxConcurrent: 8,
      threads: 1,
    });
    // Under `pnpm start` the working directory is this package's folder; INIT_CWD is where the user was.
    expect(parseConfig(['--model=m'], { npm_lifecycle_event: 'start', INIT_CWD: '/home/me' }, example)).toMatchObject({ modelDir: resolve('/home/me/m') });
    expect(parseConfig(['--model', 'https://example.com/m'], {})).toMatchObject({ modelDir: 'https://example.com/m' });
  });

  it.each([
    [['--port', '70000'], '--port must be a whole number from 0 to 65535 (got "70000")'],
    [['--max-concurrent', '0'], '--max-concurrent must be a whole number from 1 to 1024 (got "0")'],
    [['--threads', 'two'], '--threads must be a whole number from 1 to 256 (got "two")'],
    [['--model', ' '], '--model needs a model folder'],
    [['--modle', 'x'], "Unknown option '--modle'"],
    [['--allowed-hosts', 'box.lan, *.example.com'], '--allowed-hosts: "*.example.com" is not a host name or address (give each name in full'],
    [['--allowed-hosts', 'http://box.lan/'], '--allowed-hosts: "http://box.lan/" is not a host name or address'],
  ])('%j is a usage error', (argv, message) => {
    expect(() => parseConfig(argv, {})).toThrow(UsageError);
    expect(() => parseConfig(argv, {})).toThrow(message);
  });

  it('a bad environment variable is named in the error', () => {
    expect(() => parseConfig([], { WEFT_MAX_CONCURRENT: '-1' })).toThrow('WEFT_MAX_CONCURRENT must be a whole number from 1 to 1024 (got "-1")');
    expect(() => parseConfig([], { WEFT_ALLOWED_HOSTS: '*.lan' })).toThrow('WEFT_ALLOWED_HOSTS: "*.lan" is not a host name or address');
  });
});

describe('serve()', () => {
  it('loads the model once, serves it, and shutdown() closes the server and disposes the model', async () => {
    const serving = await serve({ modelDir: storyModel, threads: 1, log: { info: () => {}, error: () => {} } });
    const health = (await (await fetch(new URL('/healthz', serving.url))).json()) as { model: { path: string; backend: string } };
    expect(health.model).toMatchObject({ path: storyModel, backend: 'node' });
    const events = await allEvents(await fetch(new URL('/v1/generate', serving.url), { method: 'POST', headers: JSON_BODY, body: '{"prompt": "Once upon a time", "maxTokens": 8}' }));
    expect(events.at(-1)).toMatchObject({ event: 'done', data: { text: await serving.model.text({ prompt: 'Once upon a time', maxTokens: 8 }) } });
    await serving.shutdown();
    expect(serving.app.server.listening).toBe(false);
    const after = await serving.model.text({ prompt: 'Once', maxTokens: 2 }).catch((error: unknown) => error);
    expect(ModelDisposedError.isInstance(after)).toBe(true);
    await serving.shutdown(); // idempotent
  });

  it('a folder that is not a model fails with the load error, and leaves nothing listening', async () => {
    await expect(serve({ modelDir: join(repo, 'examples'), log: { info: () => {}, error: () => {} } })).rejects.toMatchObject({ name: 'ModelLoadError' });
  });
});

/** `node dist/main.js args…`, with its output collected. */
function startMain(args: readonly string[]): { child: ChildProcessWithoutNullStreams; stdout: () => string; stderr: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [join(example, 'dist/main.js'), ...args], { cwd: repo, env: { ...process.env, PORT: '', HOST: '', WEFT_MODEL: '', WEFT_ALLOWED_HOSTS: '', WEFT_MAX_CONCURRENT: '', WEFT_THREADS: '' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** The URL main prints once it listens. */
async function listening(main: ReturnType<typeof startMain>): Promise<URL> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const match = /listening on (http:\/\/\S+)/.exec(main.stdout());
    if (match) return new URL(match[1]!);
    if (main.child.exitCode !== null) throw new Error(`main exited with ${main.child.exitCode}: ${main.stderr()}`);
    if (Date.now() > deadline) throw new Error(`main did not listen: ${main.stdout()} ${main.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.skipIf(!built)('node dist/main.js', () => {
  beforeAll(async () => {
    await promisify(execFile)(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', join(example, 'tsconfig.json')], { cwd: repo, timeout: 120_000 });
  }, 120_000);

  it.each(['SIGTERM', 'SIGINT'] as const)('serves models/story; %s shuts it down and it exits 0', async (signal) => {
    const main = startMain(['--port', '0', '--threads', '1']);
    try {
      const url = await listening(main);
      expect(main.stdout()).toContain(`(model ${storyModel}, backend node, at most 4 generations at once)`);
      const answer = await fetch(new URL('/v1/generate', url), {
        method: 'POST',
        headers: JSON_BODY,
        body: '{"prompt": "Once upon a time", "maxTokens": 8, "stream": false}',
      });
      expect(answer.status).toBe(200);
      expect(main.child.kill(signal)).toBe(true);
      expect(await main.exited).toBe(0);
      expect(main.stdout()).toMatch(new RegExp(`${signal}: shutting down \\(0 generations in flight\\)\\nhttp-stream: stopped: the model and the runtime are disposed\\n$`));
      await expect(fetch(new URL('/healthz', url))).rejects.toThrow();
    } finally {
      main.child.kill('SIGKILL');
    }
  });

  it('SIGTERM with a stream in flight: the stream ends with its done event (finishReason abort), then the process exits 0', async () => {
    // A sampled story long enough (>= 500 tokens, about half a second here) to be mid-stream when
    // the signal arrives: found on this machine's model in this process, as the child would sample it.
    const weft = createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: 1 } })] });
    let request: Record<string, unknown> | undefined;
    try {
      const model = await weft.load(storyModel);
      for (let seed = 1; seed <= 20 && request === undefined; seed++) {
        const sampled = { prompt: 'Once upon a time', maxTokens: 1000, temperature: 1.5, topK: 0, seed };
        if ((await doneOf(model, sampled)).usage.completionTokens >= 500) request = sampled;
      }
    } finally {
      await weft.dispose();
    }
    expect(request).toBeDefined();
    const main = startMain(['--port', '0', '--threads', '1']);
    try {
      const url = await listening(main);
      const events = sseEvents(await fetch(new URL('/v1/generate', url), { method: 'POST', headers: JSON_BODY, body: JSON.stringify(request) }));
      expect((await events.next()).value).toMatchObject({ event: 'message', data: { id: expect.any(Number) } });
      main.child.kill('SIGTERM');
      const rest: SseEvent[] = [];
      for await (const event of events) rest.push(event);
      expect(rest.at(-1)).toMatchObject({ event: 'done', data: { finishReason: 'abort' } });
      expect(await main.exited).toBe(0);
      expect(main.stdout()).toContain('SIGTERM: shutting down (1 generation in flight)');
      expect(main.stdout()).toMatch(/#1 shutting down: generation stopped after \d+ tokens\n/);
      expect(main.stdout()).toMatch(/stopped: the model and the runtime are disposed\n$/);
    } finally {
      main.child.kill('SIGKILL');
    }
  });

  it('--help prints the usage and exits 0; a bad flag exits 2 with one line', async () => {
    const help = startMain(['--help']);
    expect(await help.exited).toBe(0);
    expect(help.stdout()).toMatch(/^Usage: node dist\/main.js \[options\]/);
    const bad = startMain(['--port', 'x']);
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toBe('http-stream: --port must be a whole number from 0 to 65535 (got "x") (see --help)\n');
    expect(bad.stdout()).toBe('');
    // A bad --allowed-hosts entry is a usage error too, before the model loads.
    const wildcard = startMain(['--allowed-hosts', '*.example.com']);
    expect(await wildcard.exited).toBe(2);
    expect(wildcard.stderr()).toMatch(/^http-stream: --allowed-hosts: "\*\.example\.com" is not a host name or address .*\(see --help\)\n$/);
    expect(wildcard.stdout()).toBe('');
  });

  it('--host 0.0.0.0 without --allowed-hosts: the banner gives the loopback URL, and requests by IP address (the wildcard one included) are answered', async () => {
    const main = startMain(['--host', '0.0.0.0', '--port', '0', '--threads', '1']);
    try {
      const url = await listening(main);
      expect(url.hostname).toBe('127.0.0.1');
      // The banner's lines may come in more than one chunk.
      await waitFor(() => main.stdout().includes('try: curl'), 'the try: line');
      expect(main.stdout()).toContain(`listening on ${url.href} and every other address of this machine (--host 0.0.0.0) (model `);
      expect(main.stdout()).toContain(`try: curl -N ${url.href}v1/generate `);
      // curl http://0.0.0.0:PORT/… (Host: 0.0.0.0:PORT), and a health check by the machine's address.
      for (const base of [url.href, `http://0.0.0.0:${url.port}/`]) {
        const answer = await fetch(new URL('v1/generate', base), { method: 'POST', headers: JSON_BODY, body: '{"prompt": "Once", "maxTokens": 2, "stream": false}' });
        expect(answer.status, base).toBe(200);
      }
      const byAddress = await new Promise<number | undefined>((resolve, reject) => {
        const req = get({ host: '127.0.0.1', port: Number(url.port), path: '/healthz', headers: { Host: `10.1.2.3:${url.port}` }, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode);
        });
        req.on('error', reject);
      });
      expect(byAddress).toBe(200);
      main.child.kill('SIGTERM');
      expect(await main.exited).toBe(0);
    } finally {
      main.child.kill('SIGKILL');
    }
  });
});
