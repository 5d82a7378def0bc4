/**
 * `onnxFile` given as an absolute Windows path, checked on any system: the disk folder is built
 * with `path.win32` and a stand-in `fs` (only `realpath` is reached), as `nameWithin` would run on
 * Windows. An extended-length path (`\\?\C:\…`, `\\?\UNC\server\share\…`) and its plain form name
 * the same place.
 */
import { posix, win32 } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DiskModelFolder } from '../src/model/disk-model-folder.js';

type Fs = ConstructorParameters<typeof DiskModelFolder>[1];

/** An fs whose `realpath` maps the link `C:\models\link` to `C:\models\story` and gives every other path back as it is. */
const fakeFs = {
  realpath: async (path: string) => path.replace(/^C:\\models\\link(?=\\|$)/i, 'C:\\models\\story'),
  readFile: () => Promise.reject(new Error('not read')),
  stat: () => Promise.reject(new Error('not read')),
  lstat: () => Promise.reject(new Error('not read')),
} as unknown as Fs;

const within = (folder: string, file: string, path = win32): Promise<string | undefined> => new DiskModelFolder(folder, fakeFs, path).nameWithin(file);

describe('nameWithin on Windows: extended-length paths', () => {
  it.each([
    ['C:\\models\\story', '\\\\?\\C:\\models\\story\\onnx\\model.onnx'],
    ['\\\\?\\C:\\models\\story', 'C:\\models\\story\\onnx\\model.onnx'],
    ['\\\\?\\C:\\models\\story', '\\\\?\\C:\\models\\story\\onnx\\model.onnx'],
    ['c:\\Models\\Story\\', '\\\\?\\C:\\models\\story\\onnx\\model.onnx'],
    ['C:/models/story', '\\\\?\\C:\\models\\story\\onnx\\model.onnx'],
    ['\\\\server\\share\\models\\story', '\\\\?\\UNC\\server\\share\\models\\story\\onnx\\model.onnx'],
    ['\\\\?\\UNC\\server\\share\\models\\story', '\\\\server\\share\\models\\story\\onnx\\model.onnx'],
    ['\\\\?\\UNC\\server\\share\\models\\story', '\\\\?\\UNC\\server\\share\\models\\story\\onnx\\model.onnx'],
    // The folder reached through a link, the graph named by its real path in the extended form (and the other way round).
    ['C:\\models\\link', '\\\\?\\C:\\models\\story\\onnx\\model.onnx'],
    ['\\\\?\\C:\\models\\story', 'C:\\models\\link\\onnx\\model.onnx'],
  ])('folder %s, onnxFile %s: onnx/model.onnx', async (folder, file) => {
    expect(await within(folder, file)).toBe('onnx/model.onnx');
  });

  it('a file at the top of a drive folder, and a relative name under an extended-length folder', async () => {
    expect(await within('C:\\', '\\\\?\\C:\\model.onnx')).toBe('model.onnx');
    expect(await within('\\\\?\\C:\\', 'C:\\model.onnx')).toBe('model.onnx');
    expect(await within('\\\\?\\C:\\models\\story', 'onnx\\model.onnx')).toBe('onnx\\model.onnx');
    expect(await within('\\\\?\\C:\\models\\story', '..\\other\\model.onnx')).toBeUndefined();
  });

  it.each([
    ['C:\\models\\story', '\\\\?\\C:\\models\\other\\model.onnx'],
    ['C:\\models\\story', '\\\\?\\C:\\models\\storybook\\model.onnx'],
    ['C:\\models\\story', '\\\\?\\C:\\models\\story\\..\\other\\model.onnx'],
    ['C:\\models\\story', '\\\\?\\C:\\models\\story'],
    ['C:\\models\\story', '\\\\?\\D:\\models\\story\\onnx\\model.onnx'],
    ['\\\\?\\C:\\models\\story', 'D:\\models\\story\\onnx\\model.onnx'],
    ['\\\\server\\share\\models\\story', '\\\\?\\UNC\\server\\other\\models\\story\\onnx\\model.onnx'],
    ['\\\\server\\share\\models\\story', '\\\\?\\UNC\\elsewhere\\share\\models\\story\\onnx\\model.onnx'],
    ['\\\\?\\UNC\\server\\share\\models\\story', 'C:\\models\\story\\onnx\\model.onnx'],
  ])('folder %s, onnxFile %s: outside', async (folder, file) => {
    expect(await within(folder, file)).toBeUndefined();
  });

  it('on a system without drives, an extended-length path names no file in the folder', async () => {
    expect(await within('/models/story', '\\\\?\\C:\\models\\story\\onnx\\model.onnx', posix)).toBeUndefined();
    expect(await within('/models/story', '/models/story/onnx/model.onnx', posix)).toBe('onnx/model.onnx');
  });
});

describe('files of an extended-length folder', () => {
  // Windows takes what follows `\\?\` literally: a `/` there is part of a name, not a separator.
  it.each([
    ['\\\\?\\C:\\models\\story', 'onnx/model.onnx', '\\\\?\\C:\\models\\story\\onnx\\model.onnx'],
    ['\\\\?\\C:\\models\\story\\', 'config.json', '\\\\?\\C:\\models\\story\\config.json'],
    ['\\\\?\\UNC\\server\\share\\story', 'onnx/model.onnx_data', '\\\\?\\UNC\\server\\share\\story\\onnx\\model.onnx_data'],
  ])('folder %s, file %s: %s', (folder, file, expected) => {
    expect(new DiskModelFolder(folder, fakeFs, win32).resolve(file)).toBe(expected);
  });

  it('a plain folder keeps its files as joined before', () => {
    expect(new DiskModelFolder('C:\\models\\story', fakeFs, win32).resolve('onnx/model.onnx')).toBe('C:\\models\\story/onnx/model.onnx');
    expect(new DiskModelFolder('/models/story', fakeFs, posix).resolve('onnx/model.onnx')).toBe('/models/story/onnx/model.onnx');
  });
});
