import { ModelLoadError } from '../errors/model-load-error.js';
import type { ModelSource } from '../spec/backend.js';
import {
  joinPath,
  looksAbsolute,
  MAX_TEXT_FILE_BYTES,
  shortDataMessage,
  TEXT_FILE_ADVICE,
  type ExternalDataProblem,
  type ModelFolder,
} from './model-folder.js';
import { checkExternalDataLocation, onnxExternalDataExtents } from './onnx-external-data.js';
import { tooLarge } from './read-response-bytes.js';

/**
 * Largest graph on disk read to diagnose its external data files once a backend failed to open
 * it: a graph that keeps its tensors in such files is small, and a bigger one holds its weights.
 */
export const MAX_DIAGNOSED_GRAPH_BYTES = 64 * 2 ** 20;

/**
 * A model folder on disk, or undefined where Node's `fs` and `path` modules cannot be had (a
 * browser: folders are then read over HTTP). Core never imports `node:` modules statically.
 */
export function openDiskFolder(location: string): ModelFolder | undefined {
  const fs = nodeBuiltin<NodeFs>('node:fs/promises');
  const path = nodeBuiltin<NodePath>('node:path');
  return fs && path ? new DiskModelFolder(location, fs, path) : undefined;
}

interface FileInfo {
  isDirectory(): boolean;
  isFile(): boolean;
  readonly size: number;
}

interface NodeFs {
  readFile(path: string, encoding: 'utf8'): Promise<string>;
  readFile(path: string): Promise<Uint8Array>;
  stat(path: string): Promise<FileInfo>;
  lstat(path: string): Promise<{ isSymbolicLink(): boolean }>;
  realpath(path: string): Promise<string>;
}

interface NodePath {
  readonly sep: string;
  join(...paths: string[]): string;
  toNamespacedPath(path: string): string;
  resolve(...paths: string[]): string;
  relative(from: string, to: string): string;
  isAbsolute(path: string): boolean;
  dirname(path: string): string;
  basename(path: string): string;
  join(...paths: string[]): string;
}

/** A Node built-in module (`node:url`), or undefined outside Node; never imported statically. */
export function nodeBuiltin<T>(id: string): T | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return proc?.getBuiltinModule?.(id) as T | undefined;
}

/** A Windows extended-length path (`\\?\C:\…`, `\\?\UNC\…`; `//?/` too). */
const EXTENDED_LENGTH = /^[\\/]{2}\?[\\/]/;

/**
 * A folder on disk, read through Node's `fs`. `fs` and `path` are `node:fs/promises` and
 * `node:path` (tests pass `path.win32` and a stand-in `fs` to check Windows paths anywhere).
 */
export class DiskModelFolder implements ModelFolder {
  constructor(readonly location: string, private readonly fs: NodeFs, private readonly path: NodePath) {}

  resolve(file: string): string {
    // Windows takes a path after `\\?\` as it is, `/` included: such a folder's files are joined
    // with its own separator, or onnxruntime, which opens the graph natively, would not find it.
    if (EXTENDED_LENGTH.test(this.location)) return this.path.join(this.location, ...file.split('/'));
    return joinPath(this.location, file);
  }

  async readText(file: string): Promise<string | undefined> {
    const path = this.resolve(file);
    const size = await this.size(file);
    if (size === undefined) return undefined;
    if (size > MAX_TEXT_FILE_BYTES) throw tooLarge(path, size, MAX_TEXT_FILE_BYTES, TEXT_FILE_ADVICE);
    try {
      // Without a leading byte-order mark, as TextDecoder gives the same file over HTTP: an editor
      // that saves UTF-8 with one made config.json "not valid JSON" from disk only.
      const text = await this.fs.readFile(path, 'utf8');
      return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
    } catch (cause) {
      if ((cause as { code?: string }).code === 'ENOENT') return undefined;
      throw new ModelLoadError(`Cannot read ${path}: ${(cause as Error).message}`, { path, cause });
    }
  }

  async size(file: string): Promise<number | undefined> {
    const path = this.resolve(file);
    const info = await this.statOrMissing(path);
    if (!info) return undefined;
    if (!info.isFile()) {
      // A device or a pipe read as the file would never end (/dev/zero) or never start (a FIFO).
      const what = info.isDirectory() ? 'a folder' : 'a device, a pipe or a socket';
      throw new ModelLoadError(`${path} is not a file (it is ${what}); it should be the file itself.`, { path });
    }
    return info.size;
  }

  /** `stat` of `path`, undefined when nothing is there; other failures (a symlink loop, no permission) are load errors. */
  private async statOrMissing(path: string): Promise<FileInfo | undefined> {
    try {
      return await this.fs.stat(path);
    } catch (cause) {
      const code = (cause as { code?: string }).code;
      if (code === 'ENOENT') {
        // A link whose target is gone is not the same mistake as a missing file.
        const link = await this.fs.lstat(path).catch(() => undefined);
        if (link?.isSymbolicLink()) throw new ModelLoadError(`${path} is a symbolic link to a file that does not exist.`, { path, cause });
        return undefined;
      }
      throw new ModelLoadError(`Cannot read ${path}: ${(cause as Error).message}`, { path, cause });
    }
  }

  async source(file: string): Promise<ModelSource> {
    return { kind: 'path', path: this.resolve(file) };
  }

  async externalDataFiles(): Promise<readonly string[]> {
    return [];
  }

  async externalDataProblem(file: string): Promise<ExternalDataProblem | undefined> {
    try {
      const graph = this.resolve(file);
      const info = await this.fs.stat(graph);
      if (!info.isFile() || info.size > MAX_DIAGNOSED_GRAPH_BYTES) return undefined;
      for (const [location, extent] of onnxExternalDataExtents(await this.fs.readFile(graph))) {
        // A name outside the graph's folder throws here: nothing to add to the backend's own error.
        const path = this.path.join(this.path.dirname(graph), checkExternalDataLocation(location, graph));
        const problem = await this.dataFileProblem(path, graph, location, extent);
        if (problem) return problem;
      }
    } catch {
      // The diagnosis failed itself: the backend's error stands.
    }
    return undefined;
  }

  /** What is wrong with one external data file the graph reads `extent` bytes of (Infinity: the rest of the file, any size). */
  private async dataFileProblem(path: string, graph: string, location: string, extent: number): Promise<ExternalDataProblem | undefined> {
    const advice = "(an interrupted download?); download it again, into the graph's folder.";
    let info: FileInfo;
    try {
      info = await this.fs.stat(path);
    } catch (cause) {
      if ((cause as { code?: string }).code !== 'ENOENT') return undefined;
      const link = await this.fs.lstat(path).catch(() => undefined);
      const what = link?.isSymbolicLink() ? 'is a symbolic link to a file that does not exist' : 'does not exist';
      return { path, message: `${graph} keeps tensors in ${location}, but ${path} ${what} ${advice}` };
    }
    if (!info.isFile()) return { path, message: `${graph} keeps tensors in ${location}, but ${path} is not a file.` };
    if (Number.isFinite(extent) && info.size < extent) {
      return { path, message: shortDataMessage(path, graph, extent, `the file holds ${info.size} (an interrupted download?); download it again.`) };
    }
    return undefined;
  }

  async nameWithin(file: string): Promise<string | undefined> {
    const { path } = this;
    const inside = (folder: string, target: string): string | undefined => {
      // Compared in the form Node's fs opens on Windows (`\\?\C:\…`, `\\?\UNC\server\share\…`),
      // so an extended-length path and its plain form are the same place (no change elsewhere).
      const name = path.relative(path.toNamespacedPath(folder), path.toNamespacedPath(target));
      const outside = name === '' || name === '..' || name.startsWith(`..${path.sep}`) || path.isAbsolute(name);
      return outside ? undefined : name.split(path.sep).join('/');
    };
    if (!looksAbsolute(file) && !path.isAbsolute(file)) {
      // A relative name that climbs out of the folder (`../other/model.onnx`) names no file in it.
      const folder = path.resolve(this.location);
      return inside(folder, path.resolve(folder, file)) === undefined ? undefined : file;
    }
    // A drive or share path on a system without them names no file in the folder.
    if (path.sep === '/' && !file.startsWith('/')) return undefined;
    const target = path.resolve(file);
    const lexical = inside(path.resolve(this.location), target);
    if (lexical !== undefined) return lexical;
    // The folder reached through a symbolic link, the graph named by its real path (or the other way round).
    try {
      const real = path.join(await this.fs.realpath(path.dirname(target)), path.basename(target));
      return inside(await this.fs.realpath(this.location), real);
    } catch {
      return undefined;
    }
  }

  async assertExists(): Promise<void> {
    const info = await this.statOrMissing(this.location);
    if (!info) {
      // A relative folder is looked for under the working directory, which may not be the one meant.
      const where = this.path.isAbsolute(this.location) ? '' : relativeNote(() => this.path.resolve(this.location));
      throw new ModelLoadError(`Model folder ${this.location}${where} does not exist.`, { path: this.location });
    }
    if (!info.isDirectory()) {
      throw new ModelLoadError(`${this.location} is not a folder; point at a Hugging Face style model folder.`, { path: this.location });
    }
  }
}

/**
 * ` (/abs/path, relative to the working directory)` for a relative folder; empty when the working
 * directory itself cannot be read (it was deleted: resolving then throws `ENOENT: uv_cwd`).
 */
function relativeNote(resolve: () => string): string {
  try {
    return ` (${resolve()}, relative to the working directory)`;
  } catch {
    return '';
  }
}
