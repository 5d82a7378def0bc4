import { cp, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '../src/index.js';
import { fixture, greedy, runtime } from './helpers.js';
import { serveFolder } from './serve-folder.js';

const weft = runtime();
const temps: string[] = [];
afterAll(async () => {
  await weft.dispose();
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
});

async function refusal(dir: string, onnxFile: string): Promise<InvalidOptionsError> {
  const error = await weft.load(dir, { onnxFile }).catch((e: unknown) => e);
  expect(InvalidOptionsError.isInstance(error), onnxFile).toBe(true);
  expect((error as InvalidOptionsError).option).toBe('onnxFile');
  return error as InvalidOptionsError;
}

describe('onnxFile given as an absolute path or URL', () => {
  it('on disk: an absolute path inside the folder loads the graph it names (it looked for <dir>//abs/…)', async () => {
    const dir = fixture('tiny');
    const expected = await greedy(await weft.load(dir), 'Once upon a time', 8);
    const variants: [string, string][] = [
      [dir, join(dir, 'onnx/model.onnx')],
      [`${dir}/`, join(dir, 'onnx/model.onnx')],
      // A folder given relative to the working directory, the graph by an absolute path with `..` in it.
      [relative(process.cwd(), dir), `${dir}/onnx/../onnx/model.onnx`],
    ];
    for (const [folder, onnxFile] of variants) {
      const model = await weft.load(folder, { onnxFile });
      // model.graphFile names it within the folder.
      expect(model.graphFile).toBe('onnx/model.onnx');
      expect(await greedy(model, 'Once upon a time', 8), `${folder} ${onnxFile}`).toEqual(expected);
      await model.dispose();
    }
  });

  it('on disk: through a folder reached by a symbolic link, the graph may be named by its real path', async () => {
    const root = await mkdtemp(join(tmpdir(), 'weft-onnx-file-'));
    temps.push(root);
    await cp(fixture('tiny'), join(root, 'real'), { recursive: true });
    await symlink(join(root, 'real'), join(root, 'link'));
    const model = await weft.load(join(root, 'link'), { onnxFile: join(root, 'real/onnx/model.onnx') });
    expect(model.backend).toBe('node');
    await model.dispose();
  });

  it('a relative name that climbs out of the folder is refused too; one that stays inside loads as before', async () => {
    const dir = fixture('tiny');
    for (const outside of ['../tiny-external/onnx/model.onnx', 'onnx/../../tiny-external/onnx/model.onnx', 'onnx/..']) {
      const error = await refusal(dir, outside);
      expect(error.message).toBe(`onnxFile must be a path inside the model folder, relative to it, such as "onnx/model.onnx": ${outside} is not inside ${dir}.`);
    }
    const model = await weft.load(dir, { onnxFile: 'onnx/../onnx/model.onnx' });
    expect(model.backend).toBe('node');
    // A relative name is the folder's own: kept as given.
    expect(model.graphFile).toBe('onnx/../onnx/model.onnx');
    await model.dispose();
    const server = await serveFolder(fixture('tiny'));
    try {
      const folder = `${server.url}models/tiny/`;
      expect((await refusal(folder, '../../onnx/model.onnx')).message).toMatch(/: \.\.\/\.\.\/onnx\/model\.onnx is not inside http:\/\/127\.0\.0\.1:\d+\/models\/tiny\/\.$/);
      const served = await weft.load(server.url, { onnxFile: 'onnx/../onnx/model.onnx' });
      expect(served.backend).toBe('node');
      await served.dispose();
    } finally {
      server.close();
    }
  });

  it('over HTTP: percent-escapes compare case-blind, so a URL written with %3a is inside a folder written with %3A', async () => {
    const root = await mkdtemp(join(tmpdir(), 'weft-onnx-url-'));
    temps.push(root);
    await cp(fixture('tiny'), join(root, 'a:b'), { recursive: true });
    const server = await serveFolder(root);
    try {
      const model = await weft.load(`${server.url}a%3Ab/`, { onnxFile: `${server.url}a%3ab/onnx/model.onnx` });
      expect(model.backend).toBe('node');
      await model.dispose();
      const error = await refusal(`${server.url}a%3Ab/`, `${server.url}a%3Ac/onnx/model.onnx`);
      expect(error.message).toMatch(/ is not inside http:\/\/127\.0\.0\.1:\d+\/a%3Ab\/\.$/);
    } finally {
      server.close();
    }
  });

  it('on disk: an absolute path outside the folder (or the folder itself, or a drive path here) is an InvalidOptionsError naming onnxFile', async () => {
    const dir = fixture('tiny');
    for (const outside of [join(fixture('tiny-external'), 'onnx/model.onnx'), `${dir}/../tiny-external/onnx/model.onnx`, dir, '/onnx/model.onnx']) {
      const error = await refusal(dir, outside);
      expect(error.message).toBe(
        `onnxFile must be a path inside the model folder, relative to it, such as "onnx/model.onnx": ${outside} is not inside ${dir}.`,
      );
    }
    if (process.platform !== 'win32') {
      expect((await refusal(dir, 'C:\\models\\tiny\\onnx\\model.onnx')).message).toMatch(/^onnxFile must be a path inside the model folder, relative to it/);
    }
  });

  it('over HTTP: a URL (or a path from the server\'s root) under the folder URL loads; one elsewhere is an InvalidOptionsError', async () => {
    const server = await serveFolder(fixture('tiny'));
    try {
      for (const onnxFile of [`${server.url}onnx/model.onnx`, '/onnx/model.onnx']) {
        const model = await weft.load(server.url, { onnxFile });
        expect(model.backend).toBe('node');
        expect(model.graphFile).toBe('onnx/model.onnx');
        await model.dispose();
      }
      const folder = `${server.url}models/tiny/`;
      for (const outside of [`${server.url}onnx/model.onnx`, 'http://127.0.0.1:1/models/tiny/onnx/model.onnx', '/onnx/model.onnx']) {
        const error = await refusal(folder, outside);
        expect(error.message).toMatch(/^onnxFile must be a path inside the model folder, relative to it, such as "onnx\/model\.onnx": .* is not inside http:\/\/127\.0\.0\.1:\d+\/models\/tiny\/\.$/);
      }
    } finally {
      server.close();
    }
  });
});
