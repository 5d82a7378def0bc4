import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import { createWeft, type DoneEvent, type GenerationEvent, type GenerationRequest, type StartEvent, type Weft, type WeftModel } from '@weft/core';
import { nodeBackend } from '@weft/backend-node';
import { doneOf, notIsolatedOnAsk, outcome, serveModels } from './browser-kit.js';

// The web backend in a real headless Chromium: test/harness.html loads the built @weft/core and
// @weft/backend-web through Vite (as an application bundles them), and each test drives them
// with page.evaluate. Models come from a second HTTP server (another origin, as a CDN would be),
// and every result is compared with the node backend's on the same folder read from disk.

const CHROMIUM = '/usr/bin/chromium';
const here = fileURLToPath(new URL('..', import.meta.url));
const fixtures = fileURLToPath(new URL('../../../packages/core/test/fixtures', import.meta.url));
const tiny = join(fixtures, 'tiny');
const story = fileURLToPath(new URL('../../../models/story', import.meta.url));
const VARIANTS = ['tiny-fp16', 'tiny-int32', 'tiny-logits-to-keep', 'tiny-external', 'tiny-no-past', 'tiny-no-position-ids', 'tiny-merged'];

if (!existsSync(CHROMIUM)) console.warn(`[weft tests] ${CHROMIUM} is absent (apt-get install -y chromium): web backend browser tests skipped.`);

describe.skipIf(!existsSync(CHROMIUM))('web backend in Chromium', () => {
  let vite: ViteDevServer;
  let browser: Browser;
  let page: Page;
  let models: Awaited<ReturnType<typeof serveModels>>;
  let node: Weft;
  let scratch: string;
  const pageErrors: string[] = [];
  const warnings: string[] = [];

  /** Every event of a run of `request` on the node backend, from `dir` on disk. */
  async function nodeEvents(dir: string, request: GenerationRequest): Promise<GenerationEvent[]> {
    const model = await node.load(dir, { backend: 'node' });
    try {
      const events: GenerationEvent[] = [];
      await new Promise<void>((resolve, reject) => model.generate(request).subscribe({ next: (e) => events.push(e), error: reject, complete: resolve }));
      return events;
    } finally {
      await model.dispose();
    }
  }

  /** The `done` event of that run. */
  const onNode = async (dir: string, request: GenerationRequest): Promise<DoneEvent> => doneOf(await nodeEvents(dir, request));

  /** The same run in the page, on the web backend, from the model server's folder `name`. */
  function inBrowser(name: string, request: GenerationRequest): Promise<DoneEvent> {
    return page.evaluate(
      async ({ url, request }) => {
        const { core, web, collect } = window.weft;
        const weft = core.createWeft({ plugins: [web.webBackend({ wasmPaths: '/ort/' })] });
        try {
          const model = await weft.load(url, { backend: 'web' });
          return (await collect(model.generate(request))).at(-1) as DoneEvent;
        } finally {
          await weft.dispose();
        }
      },
      { url: `${models.url}/${name}/`, request },
    );
  }

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'weft-browser-'));
    // The tiny model with a chat template of its own in chat_template.jinja, unlike tokenizer_config.json's.
    const chat = join(scratch, 'chat');
    await cp(tiny, chat, { recursive: true });
    await writeFile(
      join(chat, 'chat_template.jinja'),
      "{% for message in messages %}{{ message['role'] | upper }}: {{ message['content'] }}\n{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}",
    );
    const empty = join(scratch, 'empty');
    await mkdir(empty);
    const noGraph = join(scratch, 'no-graph');
    await cp(tiny, noGraph, { recursive: true, filter: (source) => !source.includes('/onnx') });
    const config = JSON.parse(await readFile(join(tiny, 'config.json'), 'utf8')) as Record<string, unknown>;

    models = await serveModels({
      tiny: { dir: tiny },
      story: { dir: story },
      chat: { dir: chat },
      // A single-page-app server: chat_template.jinja (optional) comes back as its page.
      'tiny-spa': { dir: tiny, missing: 'page' },
      ...Object.fromEntries(VARIANTS.map((v) => [v, { dir: join(fixtures, v) }])),
      empty: { dir: empty },
      'empty-spa': { dir: empty, missing: 'page' },
      'no-graph': { dir: noGraph },
      truncated: { dir: tiny, truncate: 'onnx/model.onnx' },
      'broken-off': { dir: tiny, breakOff: 'onnx/model.onnx' },
      'no-cors': { dir: tiny, cors: false },
      // The graph opens, then does not match the config (one layer more than it has): the session must be released.
      mismatch: { dir: tiny, replace: { 'config.json': JSON.stringify({ ...config, num_hidden_layers: 3 }) } },
    });
    node = createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: 1 } })] });
    // No file watching or hot reload: a rebuild of a package's dist/ while the tests run must not reload the page.
    vite = await createServer({
      configFile: `${here}/vite.config.ts`,
      logLevel: 'error',
      server: { port: 5392, strictPort: false, hmr: false, watch: null },
      plugins: [notIsolatedOnAsk()],
    });
    await vite.listen();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
    page = await browser.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'warning') warnings.push(m.text());
    });
    await page.goto(new URL('test/harness.html', vite.resolvedUrls!.local[0]!).href);
    await page.waitForSelector('body[data-state="ready"]', { state: 'attached', timeout: 90_000 });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await vite?.close();
    models?.close();
    await node?.dispose();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('chat messages: chat_template.jinja beside the tokenizer files wins over tokenizer_config.json, as on node', async () => {
    const one = { messages: [{ role: 'system', content: 'Tell a story.' }, { role: 'user', content: 'A fox and a hen' }], maxTokens: 12 } as const;
    const batch = { messages: [one.messages, [{ role: 'user', content: 'Hello' }]], maxTokens: 8 } as const;
    const chatDir = join(scratch, 'chat');
    for (const request of [one, batch]) {
      expect(outcome(await inBrowser('chat', request))).toEqual(outcome(await onNode(chatDir, request)));
    }
    expect(models.requested).toContain('GET /chat/chat_template.jinja');
    // The config's own template renders the same turns differently: the .jinja file is the one used.
    const byConfig = await onNode(tiny, one);
    expect((await inBrowser('chat', one)).usage.promptTokens).not.toBe(byConfig.usage.promptTokens);
    // A server that answers the missing chat_template.jinja with its HTML page: the config's template, as on node.
    expect(outcome(await inBrowser('tiny-spa', one))).toEqual(outcome(byConfig));
    expect(models.requested).toContain('GET /tiny-spa/chat_template.jinja');
  }, 120_000);

  it("a prompt cache in the page: cut back and extended, each run feeds only what it lacks and gives node's tokens", async () => {
    const prompts = ['Once upon a time, there was a little fox named Tom.', 'Once upon a time, there was a big dog.'];
    const inPage = await page.evaluate(
      async ({ url, prompts }) => {
        const { core, web, collect } = window.weft;
        const weft = core.createWeft({ plugins: [web.webBackend({ wasmPaths: '/ort/' })] });
        try {
          const model = await weft.load(url, { backend: 'web' });
          const cache = model.createPromptCache();
          const run = async (request: GenerationRequest) => {
            const events = await collect(model.generate({ maxTokens: 10, ...request, promptCache: cache }));
            const start = events[0] as StartEvent;
            const done = events.at(-1) as DoneEvent;
            return { cachedTokens: start.cachedTokens, promptTokens: start.promptIds[0]!.length, ids: done.rows[0]!.ids };
          };
          const first = await run({ prompt: prompts[0]! });
          const parted = await run({ prompt: prompts[1]! });
          const held = cache.ids.slice();
          const extended = await run({ inputIds: [...held, 9] });
          cache.dispose();
          return { first, parted, extended, held };
        } finally {
          await weft.dispose();
        }
      },
      { url: `${models.url}/tiny/`, prompts },
    );
    expect(inPage.first.cachedTokens).toBe(0);
    expect(inPage.parted.cachedTokens).toBeGreaterThan(1);
    expect(inPage.parted.cachedTokens).toBeLessThan(inPage.parted.promptTokens);
    expect(inPage.extended.cachedTokens).toBe(inPage.held.length);
    expect(inPage.first.ids).toEqual((await onNode(tiny, { prompt: prompts[0]!, maxTokens: 10 })).rows[0]!.ids);
    expect(inPage.parted.ids).toEqual((await onNode(tiny, { prompt: prompts[1]!, maxTokens: 10 })).rows[0]!.ids);
    expect(inPage.extended.ids).toEqual((await onNode(tiny, { inputIds: [...inPage.held, 9], maxTokens: 10 })).rows[0]!.ids);
  }, 120_000);

  it('a stop string that spans two tokens, a batch of prompts, model.text and model.evaluate give what node gives', async () => {
    // A stop string made of the end of one generated token and the start of the next.
    const freeEvents = await nodeEvents(tiny, { prompt: 'Once upon a time', maxTokens: 32, ignoreEos: true });
    const free = doneOf(freeEvents);
    const pieces = freeEvents.flatMap((e) => (e.type === 'token' ? [e.text] : []));
    const full = pieces.join('');
    let stop: string | undefined;
    for (let i = 0, at = 0; i + 1 < pieces.length && stop === undefined; at += pieces[i]!.length, i++) {
      const candidate = pieces[i]!.slice(-2) + pieces[i + 1]!.slice(0, 2);
      if (pieces[i]!.length >= 2 && pieces[i + 1]!.length >= 2 && full.indexOf(candidate) === at + pieces[i]!.length - 2) stop = candidate;
    }
    expect(stop, `no token boundary to put a stop string on in ${JSON.stringify(pieces)}`).toBeDefined();
    const stopped = { prompt: 'Once upon a time', maxTokens: 32, ignoreEos: true, stop: [stop!] };
    const expected = await onNode(tiny, stopped);
    expect(expected.finishReason).toBe('stop');
    expect(outcome(await inBrowser('tiny', stopped))).toEqual(outcome(expected));

    const batch = { prompt: ['Once upon a time', 'Tom', 'The little dog went'], maxTokens: 10 };
    expect(outcome(await inBrowser('tiny', batch))).toEqual(outcome(await onNode(tiny, batch)));

    const reference = await node.load(tiny, { backend: 'node' });
    const ids = free.rows[0]!.ids.slice(0, 20);
    const nodeText = await reference.text({ prompt: 'Lily and Tom', maxTokens: 16 });
    const nodeEval = await reference.evaluate({ inputIds: ids, prefillTokens: 4 });
    await reference.dispose();
    const inPage = await page.evaluate(
      async ({ url, ids }) => {
        const { core, web } = window.weft;
        const weft = core.createWeft({ plugins: [web.webBackend({ wasmPaths: '/ort/' })] });
        try {
          const model = await weft.load(url, { backend: 'web' });
          return { text: await model.text({ prompt: 'Lily and Tom', maxTokens: 16 }), evaluation: await model.evaluate({ inputIds: ids, prefillTokens: 4 }) };
        } finally {
          await weft.dispose();
        }
      },
      { url: `${models.url}/tiny/`, ids },
    );
    expect(inPage.text).toBe(nodeText);
    expect(inPage.evaluation.tokens).toBe(nodeEval.tokens);
    // The same fp32 graph on native and wasm kernels: equal to the last bits but not beyond.
    expect(inPage.evaluation.nll).toBeCloseTo(nodeEval.nll, 4);
    expect(inPage.evaluation.perplexity / nodeEval.perplexity).toBeCloseTo(1, 4);
  }, 120_000);

  it('an AbortSignal stops the stream: from a timer (the backend yields to the event loop between runs), and within a step from a token handler', async () => {
    const result = await page.evaluate(async (url) => {
      const { core, web, collect } = window.weft;
      const weft = core.createWeft({ plugins: [web.webBackend({ wasmPaths: '/ort/' })] });
      try {
        const model = await weft.load(url, { backend: 'web' });
        // A timer due at once: it runs only if some step of the loop lets the event loop in.
        const byTimer = new AbortController();
        const run = collect(model.generate({ prompt: 'x', maxTokens: 200, ignoreEos: true, signal: byTimer.signal }));
        setTimeout(() => byTimer.abort(), 0);
        const timer = (await run).at(-1) as DoneEvent;
        // Aborted while the third token is handled: no fourth comes.
        const inHandler = new AbortController();
        let tokens = 0;
        const handled = await new Promise<DoneEvent>((resolve, reject) => {
          model.generate({ prompt: 'x', maxTokens: 200, ignoreEos: true, signal: inHandler.signal }).subscribe({
            next: (e) => {
              if (e.type === 'token' && ++tokens === 3) inHandler.abort();
              if (e.type === 'done') resolve(e);
            },
            error: reject,
          });
        });
        return { timer: { finishReason: timer.finishReason, tokens: timer.usage.completionTokens }, handler: { finishReason: handled.finishReason, tokens, ids: handled.rows[0]!.ids.length } };
      } finally {
        await weft.dispose();
      }
    }, `${models.url}/tiny/`);
    expect(result.timer.finishReason).toBe('abort');
    expect(result.timer.tokens).toBeLessThan(200);
    expect(result.handler).toEqual({ finishReason: 'abort', tokens: 3, ids: 3 });
  }, 120_000);

  it("streams at once, of two models or of one, each give node's tokens (onnxruntime-web runs one session at a time)", async () => {
    const requests = [
      { prompt: 'Once upon a time', maxTokens: 16 },
      { prompt: 'The little dog', maxTokens: 12 },
    ];
    const expected = [];
    for (const request of requests) expected.push(outcome(await onNode(tiny, request)));
    const result = await page.evaluate(
      async ({ url, requests }) => {
        const { core, web, collect } = window.weft;
        const weft = core.createWeft({ plugins: [web.webBackend({ wasmPaths: '/ort/' })] });
        try {
          const [a, b] = [await weft.load(url, { backend: 'web' }), await weft.load(url, { backend: 'web' })];
          const settle = (runs: Promise<GenerationEvent[]>[]) =>
            Promise.all(runs.map((run) => run.then((events) => ({ done: events.at(-1) as DoneEvent }), (e: Error) => ({ error: `${e.name}: ${e.message}` }))));
          return {
            twoModels: await settle([collect(a.generate(requests[0]!)), collect(b.generate(requests[1]!))]),
            oneModel: await settle([collect(a.generate(requests[0]!)), collect(a.generate(requests[1]!))]),
          };
        } finally {
          await weft.dispose();
        }
      },
      { url: `${models.url}/tiny/`, requests },
    );
    // Before, the second stream's first run met the first's: "BackendError: The web backend failed: Session already started".
    for (const runs of [result.twoModels, result.oneModel]) {
      expect(runs.map((r) => ('done' in r ? outcome(r.done) : r.error))).toEqual(expected);
    }
  }, 120_000);

  it("each core fixture variant loads over HTTP and generates node's greedy tokens", async () => {
    const request = { prompt: ['Once upon a time', 'Tom'], maxTokens: 10 };
    for (const variant of VARIANTS) {
      expect(outcome(await inBrowser(variant, request)), variant).toEqual(outcome(await onNode(join(fixtures, variant), request)));
    }
    // The external data file was fetched beside the graph.
    expect(models.requested).toEqual(expect.arrayContaining(['GET /tiny-external/onnx/model.onnx', 'GET /tiny-external/onnx/model.onnx_data']));
  }, 120_000);

  it('metrics events: one per step, with the node backend’s steps, positions and cache sizes', async () => {
    const request = { prompt: ['Once upon a time', 'Tom'], maxTokens: 6, ignoreEos: true, metrics: true };
    const steps = (events: readonly GenerationEvent[]) => events.flatMap((e) => (e.type === 'metrics' ? [{ step: e.step, inputTokens: e.inputTokens, kvBytes: e.kvBytes }] : []));
    const fromNode = await nodeEvents(tiny, request);
    const webEvents = await page.evaluate(
      async ({ url, request }) => {
        const { core, web, collect } = window.weft;
        const weft = core.createWeft({ plugins: [web.webBackend({ wasmPaths: '/ort/' })] });
        try {
          return await collect((await weft.load(url, { backend: 'web' })).generate(request));
        } finally {
          await weft.dispose();
        }
      },
      { url: `${models.url}/tiny/`, request },
    );
    expect(steps(webEvents)).toEqual(steps(fromNode));
    expect(steps(webEvents)).toHaveLength(6);
    for (const e of webEvents) {
      if (e.type !== 'metrics') continue;
      for (const ms of [e.forwardMs, e.kvMs, e.samplingMs, e.detokenizeMs]) expect(ms).toBeGreaterThanOrEqual(0);
      expect(e.setupMs === undefined).toBe(e.step !== 0);
    }
  }, 120_000);

  describe('HTTP failures', () => {
    const cases: [name: string, file: string, message: RegExp][] = [
      ['empty', '', /^No model at .*\/empty\/: .*\/empty\/config\.json was not found\.$/],
      ['empty-spa', 'config.json', /empty-spa\/config\.json was served as an HTML page \(content-type text\/html\), not the file: .* make it answer 404 for them\.$/],
      ['no-graph', '', /^No ONNX graph in .*\/no-graph\/: looked for onnx\/model\.onnx, onnx\/decoder_model_merged\.onnx, model\.onnx\.$/],
      ['truncated', 'onnx/model.onnx', /^The web backend could not load .*\/truncated\/onnx\/model\.onnx \(corrupt or truncated ONNX file\?\): onnxruntime-web could not create a session/],
      ['broken-off', 'onnx/model.onnx', /broken-off\/onnx\/model\.onnx: (Failed to fetch|the download broke off)/],
      ['no-cors', 'config.json', /^Cannot fetch .*\/no-cors\/config\.json: Failed to fetch \(the browser gives no reason: the server may be unreachable, or refuse this page's origin; a model folder on another origin must send Access-Control-Allow-Origin\)$/],
      ['mismatch', 'onnx/model.onnx', /mismatch\/onnx\/model\.onnx/],
    ];

    it.each(cases)('%s: a ModelLoadError naming the file, and no session left open', async (name, file, message) => {
      const result = await page.evaluate(async (url) => {
        const { core, trackedWebBackend } = window.weft;
        const tracked = trackedWebBackend({ wasmPaths: '/ort/' });
        const weft = core.createWeft({ plugins: [tracked.plugin] });
        try {
          await weft.load(url, { backend: 'web' });
          return { loaded: true } as const;
        } catch (error) {
          const e = error as InstanceType<typeof core.ModelLoadError>;
          return { loaded: false, isModelLoadError: core.ModelLoadError.isInstance(e), code: e.code, message: e.message, path: e.path, sessions: { ...tracked.sessions } } as const;
        } finally {
          await weft.dispose();
        }
      }, `${models.url}/${name}/`);
      // The file at fault, or the folder when none is.
      expect(result).toMatchObject({ loaded: false, isModelLoadError: true, code: 'model-load', path: `${models.url}/${name}/${file}` });
      if (result.loaded) return;
      expect(result.message).toMatch(message);
      expect(result.sessions.released).toBe(result.sessions.created);
      // The mismatch opens a session before the check fails; the others fail before any.
      expect(result.sessions.created).toBe(name === 'mismatch' ? 1 : 0);
    }, 60_000);
  });

  it('dispose releases every session, also of a load still in flight, and ends a running stream after the token being handled; the model then refuses to run', async () => {
    const result = await page.evaluate(async (url) => {
      const { core, trackedWebBackend } = window.weft;
      const rounds = [];
      let last: { model: WeftModel } | undefined;
      // dispose() from the handler of the 1st, 2nd, 3rd, then 4th token of a stream, while a third
      // load is in flight. Before, the session was freed under the step then running: that step
      // failed with garbage, or the page spun forever.
      for (const at of [1, 2, 3, 4]) {
        const tracked = trackedWebBackend({ wasmPaths: '/ort/' });
        const weft = core.createWeft({ plugins: [tracked.plugin] });
        const model = await weft.load(url, { backend: 'web' });
        const other = await weft.load(url, { backend: 'web' });
        const late = weft.load(url, { backend: 'web' }).then(
          () => 'loaded',
          (e: Error) => e.name,
        );
        let disposed: Promise<void> | undefined;
        let tokens = 0;
        const running = await new Promise<string>((resolve) => {
          other.generate({ prompt: 'x', maxTokens: 200, ignoreEos: true }).subscribe({
            next: (e) => {
              if (e.type === 'token' && ++tokens === at) disposed = weft.dispose();
            },
            error: (e: Error) => resolve(e.name),
            complete: () => resolve('complete'),
          });
        });
        await disposed;
        rounds.push({ at, tokens, running, lateLoad: await late, sessions: { ...tracked.sessions } });
        last = { model };
      }
      const generate = await last!.model.text({ prompt: 'x' }).then(
        () => 'ran',
        (e: Error) => e.name,
      );
      const run = await last!.model.session.run({}).then(
        () => 'ran',
        (e: Error) => `${e.name}: ${e.message}`,
      );
      return { rounds, generate, run };
    }, `${models.url}/tiny/`);
    for (const round of result.rounds) {
      expect(round).toMatchObject({ tokens: round.at, running: 'ModelDisposedError', lateLoad: 'RuntimeDisposedError' });
      expect(round.sessions.created).toBeGreaterThanOrEqual(2);
      expect(round.sessions.released).toBe(round.sessions.created);
    }
    expect(result.generate).toBe('ModelDisposedError');
    expect(result.run).toBe('BackendError: This session was released; load the model again.');
  }, 120_000);

  it('no GPU here: WebGPU and WebNN are reported missing, a list that prefers WebGPU runs on wasm and says so, requireFullOffload refuses', async () => {
    warnings.length = 0;
    const result = await page.evaluate(async (url) => {
      const { core, web, collect } = window.weft;
      const probe = await web.probeWebProviders(web.detectEnvironment());
      // Count what a wasm-only backend asks of navigator.gpu (nothing, now).
      const gpu = (navigator as unknown as { gpu: { requestAdapter(options?: unknown): Promise<unknown> } }).gpu;
      let adapterRequests = 0;
      const requestAdapter = gpu.requestAdapter.bind(gpu);
      gpu.requestAdapter = (options) => (adapterRequests++, requestAdapter(options));
      const wasmOnly = core.createWeft({ plugins: [web.webBackend({ wasmPaths: '/ort/' })] });
      await wasmOnly.load(url, { backend: 'web' });
      await wasmOnly.dispose();
      const wasmOnlyRequests = adapterRequests;

      const preferGpu = core.createWeft({ plugins: [web.webBackend({ wasmPaths: '/ort/', executionProviders: ['webgpu', 'wasm'] })] });
      const model = await preferGpu.load(url, { backend: 'web' });
      const session = model.session as InstanceType<typeof web.WebSession>;
      const done = (await collect(model.generate({ prompt: ['Once upon a time', 'Tom'], maxTokens: 10 }))).at(-1) as DoneEvent;
      const probed = await new web.WebBackendAdapter({ executionProviders: ['webgpu', 'wasm'] }).probe();
      await preferGpu.dispose();
      gpu.requestAdapter = requestAdapter;

      let refused: string | undefined;
      try {
        web.webBackend({ requireFullOffload: true });
      } catch (error) {
        refused = `${(error as Error).name}: ${(error as Error).message}`;
      }
      const npuOnly = core.createWeft({ plugins: [web.webBackend({ wasmPaths: '/ort/', executionProviders: [{ name: 'webnn', deviceType: 'npu' }], requireFullOffload: true })] });
      const offload = await npuOnly.load(url, { backend: 'web' }).then(
        () => 'loaded',
        (e: Error) => `${e.name}: ${e.message}`,
      );
      await npuOnly.dispose();
      return { probe, wasmOnlyRequests, executionProviders: session.executionProviders, done, probed, refused, offload };
    }, `${models.url}/tiny/`);

    expect(result.probe).toEqual({
      wasm: { available: true, threads: true },
      webgpu: { available: false, reason: 'navigator.gpu.requestAdapter() found no adapter' },
      webnn: { available: false, reason: 'navigator.ml is undefined (WebNN is not enabled in this browser)' },
    });
    expect(result.wasmOnlyRequests).toBe(0);
    expect(result.executionProviders).toEqual(['wasm']);
    expect(outcome(result.done)).toEqual(outcome(await onNode(tiny, { prompt: ['Once upon a time', 'Tom'], maxTokens: 10 })));
    expect(result.probed).toEqual({ available: true, executionProviders: ['wasm'], reason: 'webgpu: unavailable, navigator.gpu.requestAdapter() found no adapter' });
    // onnxruntime-web was never asked for WebGPU, so it had no provider to drop with a warning.
    expect(warnings.filter((w) => /removing requested execution provider/.test(w))).toEqual([]);
    expect(result.refused).toMatch(/^InvalidOptionsError: requireFullOffload needs executionProviders to be exactly one webnn entry/);
    expect(result.offload).toMatch(/^AdapterResolutionError: .*webnn: unavailable, navigator\.ml is undefined/);
  }, 120_000);

  it('a page that is not cross-origin isolated runs wasm on one thread, whatever numThreads asks', async () => {
    const plain = await browser.newPage();
    try {
      // The same harness without the COOP/COEP headers: no SharedArrayBuffer, so no wasm threads.
      await plain.goto(new URL('test/harness.html?isolated=0', vite.resolvedUrls!.local[0]!).href);
      await plain.waitForSelector('body[data-state="ready"]', { state: 'attached', timeout: 90_000 });
      const request = { prompt: ['Once upon a time', 'Tom'], maxTokens: 10 };
      const result = await plain.evaluate(
        async ({ url, request }) => {
          const { core, web, collect } = window.weft;
          const weft = core.createWeft({ plugins: [web.webBackend({ wasmPaths: '/ort/', numThreads: 2 })] });
          try {
            const model = await weft.load(url, { backend: 'web' });
            const done = (await collect(model.generate(request))).at(-1) as DoneEvent;
            return { isolated: crossOriginIsolated, threads: web.wasmThreadsInUse(), wasm: (await web.probeWebProviders(web.detectEnvironment())).wasm, done };
          } finally {
            await weft.dispose();
          }
        },
        { url: `${models.url}/tiny/`, request },
      );
      expect(result.isolated).toBe(false);
      expect(result.threads).toBe(1);
      expect(result.wasm).toEqual({ available: true, threads: false, reason: expect.stringMatching(/^single-threaded: SharedArrayBuffer is not available/) });
      expect(outcome(result.done)).toEqual(outcome(await onNode(tiny, request)));
    } finally {
      await plain.close();
    }
  }, 120_000);

  /**
   * Loads the model server's folder `name` with `numThreads` on a new cross-origin isolated page
   * (onnxruntime-web fixes its thread count once per page) and runs `request`, or a second load
   * when the first fails; `prepare` may route the page's requests first.
   */
  async function onFreshPage(numThreads: number, name: string, request: GenerationRequest, prepare?: (page: Page) => Promise<unknown>) {
    const fresh = await browser.newPage();
    const workers: string[] = [];
    const blocked: string[] = [];
    const errors: string[] = [];
    fresh.on('worker', (w) => workers.push(new URL(w.url()).pathname));
    fresh.on('requestfailed', (r) => {
      if (r.failure()?.errorText === 'net::ERR_BLOCKED_BY_RESPONSE') blocked.push(new URL(r.url()).pathname);
    });
    fresh.on('pageerror', (e) => errors.push(e.message));
    try {
      await prepare?.(fresh);
      await fresh.goto(new URL('test/harness.html', vite.resolvedUrls!.local[0]!).href);
      await fresh.waitForSelector('body[data-state="ready"]', { state: 'attached', timeout: 90_000 });
      const result = await fresh.evaluate(
        async ({ url, numThreads, request }) => {
          const { core, web, collect } = window.weft;
          const weft = core.createWeft({ plugins: [web.webBackend({ wasmPaths: '/ort/', numThreads })] });
          const failed = (e: Error) => ({ error: `${e.name}: ${e.message}`, cause: `${(e.cause as Error | undefined)?.name}: ${(e.cause as Error | undefined)?.message}` });
          try {
            const model = await weft.load(url, { backend: 'web' });
            const done = (await collect(model.generate(request))).at(-1) as DoneEvent;
            return { isolated: crossOriginIsolated, threads: web.wasmThreadsInUse(), done };
          } catch (error) {
            // Once more: a failure that leaves onnxruntime-web stuck must not make the next load wait.
            const again = await weft.load(url, { backend: 'web' }).then(() => ({ error: 'loaded', cause: '' }), failed);
            return { isolated: crossOriginIsolated, threads: web.wasmThreadsInUse(), failure: failed(error as Error), again };
          } finally {
            await weft.dispose();
          }
        },
        { url: `${models.url}/${name}/`, numThreads, request },
      );
      return { ...result, workers, blocked, errors };
    } finally {
      await fresh.close();
    }
  }

  it("an isolated page runs wasm on two threads with numThreads: 2, and gives the one-thread run's greedy tokens", async () => {
    const request = { prompt: 'Once upon a time, there was a little fox named', maxTokens: 16 };
    const one = await onFreshPage(1, 'story', request);
    const two = await onFreshPage(2, 'story', request);
    expect(one).toMatchObject({ isolated: true, threads: 1, errors: [] });
    // Before, the thread worker (/ort/*.mjs, served without the page's COEP header) was refused and the load never ended.
    expect(two).toMatchObject({ isolated: true, threads: 2, blocked: [], errors: [] });
    expect(two.workers.length).toBeGreaterThan(0);
    expect(two.workers.every((w) => w.startsWith('/ort/ort-wasm-simd-threaded'))).toBe(true);
    expect(outcome(two.done!)).toEqual(outcome(one.done!));
    expect(one.done!.rows[0]!.ids.length).toBe(16);
  }, 120_000);

  it('a thread worker the browser refuses ends the load with an error saying what to serve, and so does the next load', async () => {
    // /ort/*.mjs without the page's Cross-Origin-Embedder-Policy, as a server that adds it to its pages only would send them.
    const withoutCoep = (fresh: Page) =>
      fresh.route('**/ort/*.mjs*', async (route) => {
        const response = await route.fetch();
        const headers = Object.fromEntries(Object.entries(response.headers()).filter(([name]) => name !== 'cross-origin-embedder-policy'));
        await route.fulfill({ response, headers });
      });
    const result = await onFreshPage(2, 'tiny', { prompt: 'Tom', maxTokens: 4 }, withoutCoep);
    expect(result.isolated).toBe(true);
    expect(result.blocked).toEqual([expect.stringMatching(/^\/ort\/ort-wasm-simd-threaded.*\.mjs$/)]);
    const refused = /^BackendError: onnxruntime-web's wasm threads could not start \(it would have waited for ever\): serve its files \(wasmPaths\) with the page's Cross-Origin-Embedder-Policy header, or set numThreads: 1, then reload the page\. The browser refused the thread worker http:\/\/.*\/ort\/ort-wasm-simd-threaded.*\.mjs/;
    expect(result.failure?.error).toMatch(/^ModelLoadError: The web backend could not load .*\/tiny\/onnx\/model\.onnx: onnxruntime-web's wasm threads could not start/);
    expect(result.failure?.cause).toMatch(refused);
    expect(result.again?.cause).toMatch(refused);
    // No session exists, so no thread count is in use.
    expect(result.threads).toBeUndefined();
  }, 120_000);

  it('raised no uncaught error in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});
