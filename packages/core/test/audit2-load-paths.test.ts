import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidOptionsError, ModelLoadError } from '../src/index.js';
import { modelLocation } from '../src/model/open-model-folder.js';
import { fixture, runtime } from './helpers.js';

/**
 * `load('file:///abs/path')` said "Model folder file:///… does not exist" while the CLI takes
 * file URLs, and `load('')` said "Model folder  does not exist.". A file: URL string is now its
 * path on Node, and an empty path has an error of its own.
 */
describe('load paths', () => {
  const weft = runtime();
  afterAll(() => weft.dispose());

  it('takes a file: URL string as the folder it names', async () => {
    const url = pathToFileURL(fixture('tiny')).href;
    expect(url).toMatch(/^file:\/\/\//);
    const model = await weft.load(url);
    expect(await model.text({ prompt: 'Hi', maxTokens: 1 })).toBeTypeOf('string');
    await model.dispose();
    // Still a folder error when the folder is missing, naming the path it looked at.
    const missing = await weft.load(pathToFileURL(`${fixture('tiny')}-none`).href).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ModelLoadError);
    expect((missing as Error).message).toBe(`Model folder ${fixture('tiny')}-none does not exist.`);
  });

  it('refuses an empty path with its own message', async () => {
    const error = await weft.load('').catch((e: unknown) => e);
    expect(InvalidOptionsError.isInstance(error), String(error)).toBe(true);
    expect(error).toMatchObject({ option: 'path' });
    expect((error as Error).message).toBe("load needs a model folder: the path is empty; pass the folder's path (e.g. './models/story') or its http(s):// URL.");
  });

  it('refuses an http(s) URL without a host (it fetched http://config.json), and takes one with a host', () => {
    for (const given of ['http://', 'https://', 'http:models/story', 'HTTP://']) {
      expect(() => modelLocation(given), given).toThrow(new RegExp(`^${given.replace(/[/.:]/g, '\\$&')} is not an http\\(s\\) URL of a folder: it names no host; write it as http://host\\[:port\\]/path/to/folder\\.$`));
    }
    expect(modelLocation('http://127.0.0.1:8080/models/story')).toBe('http://127.0.0.1:8080/models/story');
    expect(modelLocation('https://example.com/m')).toBe('https://example.com/m');
  });

  it('refuses a file: URL that names no local path, saying why', () => {
    const make = (): unknown => modelLocation('file://example.com/models/story');
    expect(make).toThrow(InvalidOptionsError);
    expect(make).toThrow(/^file:\/\/example\.com\/models\/story is not a file: URL of a local folder \(.+\); pass the folder's path instead\.$/);
  });

  it('refuses a file: URL with a relative-looking path after file: (it names a folder from the root) and one with a NUL byte; takes file:/abs', () => {
    // Before: file:models/story loaded /models/story ("does not exist", nothing said why).
    expect(() => modelLocation('file:models/story')).toThrow(/^file:models\/story is not an absolute file: URL \(file:\/\/\/path\/to\/folder\).*pass the relative path itself \('models\/story'\)/);
    expect(() => modelLocation('file:./models/story')).toThrow(InvalidOptionsError);
    expect(() => modelLocation('file:///work/story%00')).toThrow(/decodes to a path with a NUL byte \(%00\)/);
    expect(modelLocation('file:///work/story')).toBe('/work/story');
    // A single slash is an absolute file: URL too (RFC 8089).
    expect(modelLocation('file:/work/story')).toBe('/work/story');
  });

  it('leaves other locations as they are', () => {
    for (const location of ['models/story', '/abs/story', 'https://example.com/story/', 'C:\\models\\story', ' ']) expect(modelLocation(location)).toBe(location);
  });
});
