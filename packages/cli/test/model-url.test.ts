import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingDefaultModel, resolveModelDir } from '../src/index.js';
import { serveFolder } from '../../core/test/serve-folder.js';
import { cli, generateJson, storyModel } from './helpers.js';

let server: Awaited<ReturnType<typeof serveFolder>>;
let url: string;

/** Serves the story model's folder; a file it lacks is a 404. */
beforeAll(async () => {
  server = await serveFolder(storyModel);
  url = server.url;
});
afterAll(() => server.close());

describe('--model with an http(s) URL', () => {
  it('passes the URL to the SDK, which loads the folder it serves', async () => {
    const args = ['--prompt', 'Once upon a time', '--max-tokens', '6'];
    const fromUrl = await generateJson(url, ...args);
    expect(fromUrl.stderr).toBe('');
    expect(fromUrl.code).toBe(0);
    const ids = fromUrl.json().at(-1)!['ids'] as number[];
    expect(ids.length).toBeGreaterThan(0);
    expect(ids).toEqual((await generateJson(storyModel, ...args)).json().at(-1)!['ids']);
  });

  it('picks the attention graph of a URL folder for a router that reads attentions', async () => {
    const args = ['--prompt', 'Once upon a time', '--max-tokens', '6', '--router', 'heavy-hitter:budget=8'];
    const fromUrl = await generateJson(url, ...args);
    expect(fromUrl.stderr).toBe('');
    expect(fromUrl.code).toBe(0);
    expect(fromUrl.json().at(-1)!['ids']).toEqual((await generateJson(storyModel, ...args)).json().at(-1)!['ids']);
  });

  it('reports a URL with no model at it as the URL, not as a local path', async () => {
    const result = await generateJson(`${url}nope/`, '--prompt', 'x');
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`weft: No model at ${url}nope/: ${url}nope/config.json was not found.\n`);
  });

  it('says why a server could not be reached, not only "fetch failed"', async () => {
    // A port nothing listens on: one a server had, closed again.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const result = await generateJson(`http://127.0.0.1:${port}/story/`, '--prompt', 'x');
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`weft: Cannot fetch http://127.0.0.1:${port}/story/config.json: fetch failed (connect ECONNREFUSED 127.0.0.1:${port})\n`);
  });

  it('takes a file:// URL as the folder it names', async () => {
    const args = ['--prompt', 'Once upon a time', '--max-tokens', '4'];
    const fromFileUrl = await generateJson(pathToFileURL(storyModel).href, ...args);
    expect(fromFileUrl.stderr).toBe('');
    expect(fromFileUrl.code).toBe(0);
    expect(fromFileUrl.json().at(-1)!['ids']).toEqual((await generateJson(storyModel, ...args)).json().at(-1)!['ids']);
  });

  it('is a usage error for bench, whose bare loop reads the files itself', async () => {
    const result = await cli(['bench', '--model', url, '--runs', '2', '--tokens', '4']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`weft: bench needs --model to be a folder on disk (its bare onnxruntime loop reads the files itself); download ${url} and pass that folder\n`);
  });

  it('keeps URLs and resolves everything else against the working directory', () => {
    expect(resolveModelDir('https://example.com/models/story')).toBe('https://example.com/models/story');
    expect(resolveModelDir('HTTP://127.0.0.1:9/x')).toBe('HTTP://127.0.0.1:9/x');
    expect(resolveModelDir('models/http:/x')).toBe(join(process.cwd(), 'models/http:/x'));
  });

  it('refuses a file: URL with a relative-looking path, as core does, instead of looking for a folder named file:models; takes file:/abs', () => {
    expect(() => resolveModelDir('file:models/story')).toThrow(/^--model file:models\/story is not an absolute file: URL .*pass the path itself \(--model models\/story\)$/);
    expect(resolveModelDir('file:/work/story')).toBe('/work/story');
  });
});

describe('without --model, outside a checkout of the repository', () => {
  it('says weft has no default model when installed from npm, instead of naming a path under node_modules', () => {
    expect(missingDefaultModel('/app/node_modules/models/story')).toMatch(/^weft has no default model when installed from npm .*; pass --model DIR/);
    expect(missingDefaultModel('/app/node_modules/models/story')).not.toContain('node_modules');
    expect(missingDefaultModel('/src/weft/models/story')).toBe('the default model /src/weft/models/story is not there; pass --model DIR (a Hugging Face style ONNX model folder)');
  });
});
