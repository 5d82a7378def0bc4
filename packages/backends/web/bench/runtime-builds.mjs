#!/usr/bin/env node
// onnxruntime-web's default build (`onnxruntime-web`: wasm + WebGPU/WebNN, the "jsep" wasm) vs its
// wasm-only build (`onnxruntime-web/wasm`), in headless Chromium on the wasm provider: per build,
// the runtime files the page downloads (.mjs + .wasm from wasmPaths, as served), the first
// session's create time (runtime download + compile + graph), time to first token and ms/token of
// greedy generation (same prompt ids on both), and whether both builds produce the same ids.
//
// The page is examples/browser/test/harness.html (the built @weft/core and @weft/backend-web,
// bundled by Vite as an application would) served by the example's Vite config, once as it is and
// once with `onnxruntime-web` aliased to `onnxruntime-web/wasm`. Each (build, threads) pair gets a
// page of its own (onnxruntime-web's wasm settings are process-wide) that loads the model once;
// runs then alternate A/B, B/A… so neither build always runs first. 1 thread runs on a page that
// is not cross-origin isolated, more threads on one that is (COOP/COEP). Reports medians.
//
//   npx tsc -b packages/core packages/backends/web
//   bash scripts/ensure-chromium.sh     # Debian's /usr/bin/chromium; never `playwright install`
//   node packages/backends/web/bench/runtime-builds.mjs [--model DIR] [--tokens 64] [--runs 7] [--warmup 1] [--threads 1,2] [--prompt-tokens 16] [--json]
//
// Without --model it measures models/story.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { scriptUsage } from '../../../../scripts/script-usage.mjs';
import { median } from '@weft/core';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const example = join(root, 'examples/browser');
const CHROMIUM = '/usr/bin/chromium';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    tokens: { type: 'string', default: '64' },
    runs: { type: 'string', default: '7' },
    warmup: { type: 'string', default: '1' },
    threads: { type: 'string', default: '1,2' },
    'prompt-tokens': { type: 'string', default: '16' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(scriptUsage(import.meta.url));
  process.exit(0);
}
const int = (name, text = values[name], min = 0) => {
  const v = Number(text);
  if (text === '' || !Number.isInteger(v) || v < min) throw new Error(`--${name} must be an integer >= ${min}; got ${JSON.stringify(text)}`);
  return v;
};
const tokens = int('tokens', undefined, 1);
const runs = int('runs', undefined, 1);
const warmup = int('warmup');
const promptTokens = int('prompt-tokens', undefined, 1);
const threadCounts = values.threads.split(',').map((t) => int('threads', t.trim(), 1));
const modelDir = values.model ?? join(root, 'models/story');
if (!existsSync(join(modelDir, 'config.json')) || !existsSync(join(modelDir, 'onnx/model.onnx'))) throw new Error(`${modelDir} is not a model folder (config.json, onnx/model.onnx)`);
if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run \`bash scripts/ensure-chromium.sh\` (never \`playwright install\`)`);

// vite and playwright-core are the browser example's dev dependencies; its test kit has the model server.
const fromExample = createRequire(join(example, 'package.json'));
const { createServer, runnerImport } = await import(fromExample.resolve('vite'));
const { chromium } = fromExample('playwright-core');
const { module: kit } = await runnerImport(join(example, 'test/browser-kit.ts'));
const ortDist = join(root, 'packages/backends/web/node_modules/onnxruntime-web/dist');

/** The two builds: how the page's bundler resolves `onnxruntime-web` for each. */
const BUILDS = {
  default: { label: 'onnxruntime-web (jsep)', alias: [] },
  wasm: { label: 'onnxruntime-web/wasm', alias: [{ find: /^onnxruntime-web$/, replacement: 'onnxruntime-web/wasm' }] },
};

/** The greedy prompt: the same ids on every page (the tokenizer is the model's). */
const SENTENCE = 'Once upon a time, there was a little girl named Lily. She liked to play in the park with her dog. ';

const models = await kit.serveModels({ model: { dir: modelDir } });
const servers = [];
let browser;
const results = [];
try {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  const origins = {};
  for (const [build, { alias }] of Object.entries(BUILDS)) {
    const vite = await createServer({
      configFile: join(example, 'vite.config.ts'),
      logLevel: 'error',
      resolve: { alias },
      // Each build prebundles into a cache of its own: the two servers must not share one.
      cacheDir: join(example, `node_modules/.vite-bench-${build}`),
      server: { port: 0, hmr: false, watch: null },
      plugins: [kit.notIsolatedOnAsk()],
    });
    await vite.listen();
    servers.push(vite);
    origins[build] = vite.resolvedUrls.local[0];
  }

  for (const threads of threadCounts) {
    const pages = {};
    for (const build of Object.keys(BUILDS)) pages[build] = await openPage(build, origins[build], threads);
    const timed = { default: [], wasm: [] };
    let reference;
    let idsMatch = true;
    for (let pair = 0; pair < warmup + runs; pair++) {
      const order = pair % 2 === 0 ? ['default', 'wasm'] : ['wasm', 'default'];
      for (const build of order) {
        const { page } = pages[build];
        await page.bringToFront();
        const run = await page.evaluate(({ tokens, promptTokens, sentence }) => window.bench.greedy(tokens, promptTokens, sentence), { tokens, promptTokens, sentence: SENTENCE });
        reference ??= run.ids;
        if (JSON.stringify(run.ids) !== JSON.stringify(reference)) idsMatch = false;
        if (pair >= warmup) timed[build].push(run);
      }
    }
    for (const build of Object.keys(BUILDS)) {
      const { page, context, loaded, downloads } = pages[build];
      const list = timed[build];
      results.push({
        threads,
        build,
        label: BUILDS[build].label,
        isolated: loaded.isolated,
        threadsInUse: loaded.threadsInUse,
        msPerToken: median(list.map((r) => r.msPerToken)),
        ttftMs: median(list.map((r) => r.ttftMs)),
        sessionCreateMs: loaded.sessionCreateMs,
        loadMs: loaded.loadMs,
        downloads,
        generated: list[0].ids.length,
        idsMatch,
        runs: list.map((r) => +r.msPerToken.toFixed(2)),
      });
      await page.close();
      await context.close();
    }
  }
} finally {
  await browser?.close();
  for (const vite of servers) await vite.close();
  models.close();
}

/**
 * A page of its own for `build` at `threads`: loads the model once (timing the web backend's
 * createSession, the first of the page, so it includes fetching and compiling the runtime) and
 * exposes `window.bench.greedy`. Records what the page fetched from /ort/ (bytes as served).
 */
async function openPage(build, origin, threads) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const downloads = [];
  page.on('requestfinished', async (request) => {
    const url = new URL(request.url());
    if (!url.pathname.startsWith('/ort/')) return;
    const sizes = await request.sizes();
    downloads.push({ file: url.pathname.slice('/ort/'.length), bytes: sizes.responseBodySize });
  });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const isolated = threads > 1;
  await page.goto(new URL(`test/harness.html${isolated ? '' : '?isolated=0'}`, origin).href);
  await page.waitForSelector('body[data-state="ready"]', { state: 'attached', timeout: 120_000 });
  const loaded = await page.evaluate(
    async ({ url, threads }) => {
      const { core, web, collect } = window.weft;
      let sessionCreateMs;
      class TimedAdapter extends web.WebBackendAdapter {
        async createSession(source, options) {
          const start = performance.now();
          const session = await super.createSession(source, options);
          sessionCreateMs ??= performance.now() - start;
          return session;
        }
      }
      const plugin = core.definePlugin({
        name: 'timed-web-backend',
        version: '0.0.0',
        apiVersion: '^0.1.0',
        setup(ctx) {
          ctx.register('backend', { name: 'web', priority: 50, capabilities: [...web.WEB_PROVIDERS], create: () => new TimedAdapter({ wasmPaths: '/ort/', numThreads: threads }) });
        },
      });
      const weft = core.createWeft({ plugins: [plugin] });
      const start = performance.now();
      const model = await weft.load(url, { backend: 'web' });
      const loadMs = performance.now() - start;
      window.bench = {
        async greedy(maxTokens, promptTokens, sentence) {
          let text = sentence;
          while (model.tokenizer.encode(text).length < promptTokens) text += sentence;
          const inputIds = model.tokenizer.encode(text).slice(0, promptTokens);
          const done = (await collect(model.generate({ inputIds, maxTokens, temperature: 0, repetitionPenalty: 1 }))).at(-1);
          return { ids: [...done.rows[0].ids], msPerToken: done.msPerToken, ttftMs: done.ttftMs };
        },
      };
      return { sessionCreateMs, loadMs, isolated: globalThis.crossOriginIsolated === true, threadsInUse: web.wasmThreadsInUse() };
    },
    { url: `${models.url}/model/`, threads },
  );
  if (errors.length > 0) throw new Error(`${build} page: ${errors.join('; ')}`);
  return { page, context, loaded, downloads };
}

/** Size of a runtime file on disk and gzipped (what a server that compresses would send). */
const onDisk = (file) => {
  const path = join(ortDist, file);
  if (!existsSync(path)) return undefined;
  return { bytes: statSync(path).size, gzip: gzipSync(readFileSync(path), { level: 9 }).length };
};
const MB = (n) => (n / 1e6).toFixed(2);
const summary = results.map((r) => ({ ...r, downloadedBytes: r.downloads.reduce((s, d) => s + d.bytes, 0), gzipBytes: r.downloads.reduce((s, d) => s + (onDisk(d.file)?.gzip ?? 0), 0) }));

if (values.json) {
  console.log(JSON.stringify({ chromium: CHROMIUM, model: modelDir.replace(root, ''), tokens, runs, warmup, promptTokens, results: summary }, null, 2));
} else {
  console.log(`${modelDir.replace(root, '')}: prompt ${promptTokens} tokens, ${tokens} new tokens, greedy, ${runs} timed runs (+${warmup} warm-up) per build, alternating; headless Chromium`);
  console.log('| threads | build | ms/token (median) | TTFT ms | first session create ms | model load ms | runtime downloaded (MB, as served) | gzip -9 (MB) | same ids |');
  console.log('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const r of summary) {
    const threads = `${r.threads}${r.threadsInUse !== r.threads ? ` (runs ${r.threadsInUse})` : ''}${r.isolated ? ', isolated' : ''}`;
    console.log(
      `| ${threads} | ${r.label} | ${r.msPerToken.toFixed(2)} | ${r.ttftMs.toFixed(1)} | ${r.sessionCreateMs.toFixed(0)} | ${r.loadMs.toFixed(0)} | ${MB(r.downloadedBytes)} | ${MB(r.gzipBytes)} | ${r.idsMatch ? 'yes' : 'NO'} |`,
    );
  }
  for (const r of summary) console.log(`${r.threads} thread(s), ${r.label}: ${r.generated} tokens/run; ms/token runs ${r.runs.join(', ')}; fetched ${r.downloads.map((d) => `${d.file} ${d.bytes} B`).join(', ')}`);
}
