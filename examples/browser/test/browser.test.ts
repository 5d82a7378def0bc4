import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build, createServer, preview, type ViteDevServer } from 'vite';
import { last, lastValueFrom } from 'rxjs';
import { createWeft } from '@weft/core';
import { nodeBackend } from '@weft/backend-node';

const CHROMIUM = '/usr/bin/chromium';
const here = fileURLToPath(new URL('..', import.meta.url));
const modelDir = fileURLToPath(new URL('../../../models/story', import.meta.url));
const artifacts = fileURLToPath(new URL('../../../.artifacts', import.meta.url));
const prompt = 'Once upon a time, there was a little fox named';

if (!existsSync(CHROMIUM)) console.warn(`[weft tests] ${CHROMIUM} is absent (apt-get install -y chromium): browser test skipped.`);

describe.skipIf(!existsSync(CHROMIUM))('browser example in Chromium', () => {
  let server: ViteDevServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    server = await createServer({ configFile: `${here}/vite.config.ts`, logLevel: 'error', server: { port: 5391, strictPort: false } });
    await server.listen();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
    page = await browser.newPage();
    page.on('pageerror', (e) => console.error('[page]', e.message));
    await page.goto(server.resolvedUrls!.local[0]!);
    await page.waitForSelector('body[data-state="ready"]', { timeout: 90_000 });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** What the page showed at one change of the output: its text, the live stats line and the state. */
  interface Frame {
    text: string;
    stats: string;
    state: string;
  }

  async function run(maxTokens: number, stopAfterChars?: number, on: Page = page): Promise<{ ids: number[]; finish: string; text: string; stats: string; frames: Frame[] }> {
    const page = on;
    await page.fill('#prompt', prompt);
    await page.fill('#max-tokens', String(maxTokens));
    await page.fill('#temperature', '0');
    // Record what the page shows at every change of the output while the story streams.
    await page.evaluate(() => {
      const output = document.getElementById('output')!;
      const frames: { text: string; stats: string; state: string }[] = [];
      (window as unknown as { frames_: typeof frames }).frames_ = frames;
      new MutationObserver(() => {
        frames.push({ text: output.textContent ?? '', stats: document.getElementById('stats')?.textContent ?? '', state: document.body.dataset['state'] ?? '' });
      }).observe(output, { childList: true, characterData: true, subtree: true });
    });
    if (stopAfterChars !== undefined) {
      // Press Stop from inside the page as soon as enough text has streamed (the model is fast).
      await page.evaluate((n) => {
        const output = document.getElementById('output')!;
        new MutationObserver((_, observer) => {
          if ((output.textContent ?? '').length >= n) {
            observer.disconnect();
            document.getElementById('stop')!.click();
          }
        }).observe(output, { childList: true, characterData: true, subtree: true });
      }, stopAfterChars);
    }
    await page.click('#generate');
    await page.waitForSelector('body[data-state="done"]', { timeout: 90_000 });
    return page.evaluate(() => ({
      ids: JSON.parse(document.body.dataset['ids'] ?? '[]') as number[],
      finish: document.body.dataset['finish'] ?? '',
      text: document.getElementById('output')?.textContent ?? '',
      stats: document.getElementById('stats')?.textContent ?? '',
      frames: (window as unknown as { frames_: Frame[] }).frames_,
    }));
  }

  it('streams the same greedy story as the node backend', async () => {
    const weft = createWeft({ plugins: [nodeBackend()] });
    const model = await weft.load(modelDir);
    const done = await lastValueFrom(model.generate({ prompt, maxTokens: 48 }).pipe(last()));
    await weft.dispose();
    if (done.type !== 'done') throw new Error('no done event');

    const result = await run(48);
    expect(result.ids).toEqual(done.rows[0]!.ids);
    expect(result.text).toBe(done.rows[0]!.text);
    expect(result.text.length).toBeGreaterThan(40);

    // Token by token: while the state is still "generating", the output grew through many texts,
    // each the story so far (a prefix of the final text), and the stats line counted the tokens
    // live with a tokens/s figure.
    const streaming = result.frames.filter((f) => f.state === 'generating' && f.text !== '');
    const texts = [...new Set(streaming.map((f) => f.text))];
    expect(texts.length).toBeGreaterThan(result.ids.length / 2);
    for (const [i, text] of texts.entries()) {
      expect(result.text.startsWith(text), text).toBe(true);
      if (i > 0) expect(text.length).toBeGreaterThan(texts[i - 1]!.length);
    }
    const counts = streaming.map((f) => /^(\d+) tokens · \S+ tokens\/s( · |$)/.exec(f.stats)?.[1]).map(Number);
    expect(counts.every((n) => n >= 1)).toBe(true);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    expect(new Set(counts).size).toBeGreaterThan(result.ids.length / 2);
    expect(result.stats).toMatch(new RegExp(`^${result.ids.length} tokens · \\S+ tokens/s · \\S+ ms/token · finished: ${done.finishReason}$`));
    mkdirSync(artifacts, { recursive: true });
    const shot = `${artifacts}/browser-example.png`;
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`[weft tests] browser screenshot: ${shot}`);
  }, 120_000);

  it('the status line gives the wasm thread count onnxruntime-web runs with', async () => {
    // The page is cross-origin isolated, so onnxruntime-web's default applies: min(4, ceil(cores / 2)).
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    const threads = Math.min(4, Math.ceil(cores / 2));
    await page.reload();
    await page.waitForSelector('body[data-state="ready"]', { timeout: 90_000 });
    expect(await page.textContent('#status')).toBe(`ready (web, wasm on ${threads} thread${threads === 1 ? '' : 's'})`);
  }, 120_000);

  it('stops when the stop button is pressed', async () => {
    const result = await run(900, 20);
    expect(result.finish).toBe('abort');
    expect(result.ids.length).toBeLessThan(900);
  }, 120_000);

  it('loads a graph whose weights are in an external data file, fetched beside it (model.onnx_data)', async () => {
    // The page loads /models/story/; here those requests get the tiny-external fixture instead.
    const fixture = fileURLToPath(new URL('../../../packages/core/test/fixtures/tiny-external', import.meta.url));
    const weft = createWeft({ plugins: [nodeBackend()] });
    const reference = await weft.load(fixture.replace(/tiny-external$/, 'tiny'));
    const done = await lastValueFrom(reference.generate({ prompt, maxTokens: 16 }).pipe(last()));
    await weft.dispose();
    if (done.type !== 'done') throw new Error('no done event');

    const external = await browser.newPage();
    const fetched: string[] = [];
    try {
      await external.route('**/models/story/**', async (route) => {
        const path = new URL(route.request().url()).pathname.replace(/^\/models\/story\//, '');
        fetched.push(path);
        const file = join(fixture, path);
        if (!existsSync(file)) return route.fulfill({ status: 404, body: '' });
        await route.fulfill({ status: 200, body: readFileSync(file), headers: { 'content-type': 'application/octet-stream' } });
      });
      await external.goto(server.resolvedUrls!.local[0]!);
      await external.waitForSelector('body[data-state="ready"]', { timeout: 90_000 });
      expect(fetched).toEqual(expect.arrayContaining(['onnx/model.onnx', 'onnx/model.onnx_data']));
      const result = await run(16, undefined, external);
      expect(result.ids).toEqual(done.rows[0]!.ids);
    } finally {
      await external.close();
    }
  }, 120_000);

  it('the built page (vite build, then vite preview) loads the model and streams the same story', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'weft-browser-build-'));
    let server: Awaited<ReturnType<typeof preview>> | undefined;
    const built = await browser.newPage();
    try {
      await build({ configFile: `${here}/vite.config.ts`, logLevel: 'error', build: { outDir, emptyOutDir: true } });
      // No copy of onnxruntime-web's wasm in the build (28 MB for its WebGPU/WebNN "jsep" one): the
      // page fetches its runtime files from wasmPaths (/ort/).
      const shipped = readdirSync(outDir, { recursive: true, encoding: 'utf8' });
      expect(shipped.filter((f) => /\.(wasm|mjs)$/.test(f))).toEqual([]);
      const bytes = shipped.reduce((sum, f) => sum + (statSync(join(outDir, f)).isFile() ? statSync(join(outDir, f)).size : 0), 0);
      expect(bytes).toBeLessThan(2_000_000);
      server = await preview({ configFile: `${here}/vite.config.ts`, logLevel: 'error', build: { outDir }, preview: { port: 5392, strictPort: false } });
      const base = server.resolvedUrls!.local[0]!;
      // The preview server serves the model and onnxruntime-web's files as the dev server does, with
      // the headers that make the page cross-origin isolated.
      const response = await fetch(base);
      expect(response.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      expect(response.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
      expect((await fetch(new URL('/models/story/nope.json', base))).status).toBe(404);
      // Its wasm thread worker too: a cross-origin isolated page refuses one served without COEP.
      expect((await fetch(new URL('/ort/ort-wasm-simd-threaded.jsep.mjs', base))).headers.get('cross-origin-embedder-policy')).toBe('require-corp');
      const runtimeFiles: string[] = [];
      built.on('request', (request) => {
        const path = new URL(request.url()).pathname;
        if (/\.(wasm|mjs)$/.test(path)) runtimeFiles.push(path);
      });
      await built.goto(base);
      await built.waitForSelector('body[data-state="ready"], body[data-state="error"]', { state: 'attached', timeout: 90_000 });
      expect(await built.textContent('#status')).toMatch(/^ready \(web, wasm on \d+ threads?\)$/);
      // onnxruntime-web's loader and wasm came from /ort/ (its build that keeps WebGPU selectable).
      expect([...new Set(runtimeFiles)].sort()).toEqual(['/ort/ort-wasm-simd-threaded.jsep.mjs', '/ort/ort-wasm-simd-threaded.jsep.wasm']);
      const fromDev = await run(24);
      const fromBuild = await run(24, undefined, built);
      expect(fromBuild.ids).toEqual(fromDev.ids);
      expect(fromBuild.frames.filter((f) => f.state === 'generating' && f.text !== '').length).toBeGreaterThan(1);
    } finally {
      await built.close();
      await server?.close();
      rmSync(outDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('shows why the model did not load, and the dev server answers missing model files with 404', async () => {
    const base = server.resolvedUrls!.local[0]!;
    expect((await fetch(new URL('/models/story/nope.json', base))).status).toBe(404);
    expect((await fetch(new URL('/models/story/config.json', base))).status).toBe(200);
    expect((await fetch(new URL('/ort/ort-wasm-simd-threaded.jsep.mjs', base))).headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    const broken = await browser.newPage();
    try {
      await broken.route('**/models/story/config.json', (route) => route.fulfill({ status: 404, body: '' }));
      await broken.goto(base);
      await broken.waitForSelector('body[data-state="error"]', { timeout: 60_000 });
      expect(await broken.textContent('#status')).toMatch(/^error: could not load the model: .*config\.json/);
      expect(await broken.isDisabled('#generate')).toBe(true);
    } finally {
      await broken.close();
    }
  }, 120_000);
});
