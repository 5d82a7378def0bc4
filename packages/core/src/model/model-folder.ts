import { ModelLoadError } from '../errors/model-load-error.js';
import type { ExternalDataFile, ModelSource } from '../spec/backend.js';
import { concatBytes } from '../util/concat-bytes.js';
import { describeCause } from '../util/describe-cause.js';
import { requireJsonObject } from '../util/json-object.js';
import { FETCH_TIMEOUT_MS } from './load-timeouts.js';
import { checkExternalDataLocation, onnxExternalDataExtents } from './onnx-external-data.js';

/** Graph files tried in order when the caller names none. */
export const GRAPH_CANDIDATES: readonly string[] = ['onnx/model.onnx', 'onnx/decoder_model_merged.onnx', 'model.onnx'];

/** Where newer transformers versions save a model's chat template (instead of tokenizer_config.json). */
export const CHAT_TEMPLATE_FILE = 'chat_template.jinja';

/**
 * Largest text file (config, tokenizer) read from a model folder: the biggest real tokenizer.json
 * files are tens of MB, and a file, or a server's endless answer, past this is refused before it
 * can run the process out of memory.
 */
export const MAX_TEXT_FILE_BYTES = 256 * 1024 * 1024;

/** Largest ONNX graph fetched over HTTP: protobuf's limit (bigger models keep weights in external data files). */
export const MAX_GRAPH_BYTES = 2 ** 31;

/**
 * Largest graph on disk read to diagnose its external data files once a backend failed to open
 * it: a graph that keeps its tensors in such files is small, and a bigger one holds its weights.
 */
export const MAX_DIAGNOSED_GRAPH_BYTES = 64 * 2 ** 20;

/** An external data file that is missing or shorter than its graph reads: the file, and what to tell the user. */
export interface ExternalDataProblem {
  readonly path: string;
  readonly message: string;
}

/**
 * Read access to a model folder: a directory on disk under Node.js, or a URL prefix served over
 * HTTP in browsers (and in Node for `http(s):` locations). Core never imports `node:` modules
 * statically, so it bundles for the browser.
 */
export interface ModelFolder {
  /** The folder as given (for messages). */
  readonly location: string;
  /** Joins a file name onto the folder. */
  resolve(file: string): string;
  /**
   * Text of a file, or `undefined` when it does not exist. With `pageIsMissing`, an HTTP server's
   * HTML page in its place (as single-page-app servers answer missing files) also counts as
   * missing, for optional files; otherwise it is a `ModelLoadError`.
   */
  readText(file: string, options?: { readonly pageIsMissing?: boolean }): Promise<string | undefined>;
  /**
   * Size in bytes of a file, or `undefined` when it does not exist; with `pageIsMissing`, an HTTP
   * server's HTML page in its place counts as missing too (as for `readText`).
   */
  size(file: string, options?: { readonly pageIsMissing?: boolean }): Promise<number | undefined>;
  /** Throws a `ModelLoadError` unless the folder exists. */
  assertExists(): Promise<void>;
  /** How a backend should open one of the folder's files: by path on disk, or by fetched bytes. */
  source(file: string): Promise<ModelSource>;
  /**
   * The external data files `source(file)` would fetch with the graph as bytes (fetching only the
   * graph, which `source` then reuses); none for a folder on disk, whose backend reads them beside
   * the graph's path.
   */
  externalDataFiles(file: string): Promise<readonly string[]>;
  /**
   * What is wrong with the external data files the graph `file` names, asked once a backend
   * failed to open it: the first that is missing or shorter than the graph's tensors read, or
   * undefined (files that look right, a graph that does not parse, or a failure of its own: it
   * never throws). Over HTTP always undefined: `source` checks each file as it arrives.
   */
  externalDataProblem(file: string): Promise<ExternalDataProblem | undefined>;
  /**
   * `file` as a name within the folder: as it is when relative; an absolute path (`/…`, `C:\…`)
   * or URL inside the folder made relative to it; undefined when it is outside (a relative name
   * whose `..` climbs out of the folder included).
   */
  nameWithin(file: string): Promise<string | undefined>;
}

export function joinPath(base: string, file: string): string {
  return base.endsWith('/') ? base + file : `${base}/${file}`;
}

/** The folder part of a file name within the model folder (`onnx/` for `onnx/model.onnx`), `''` at its top. */
function folderOf(file: string): string {
  return file.includes('/') ? file.slice(0, file.lastIndexOf('/') + 1) : '';
}

/** Absolute as a path on some system: `/…`, a Windows drive (`C:\…`, `C:/…`) or share (`\\server\…`). */
function looksAbsolute(file: string): boolean {
  return file.startsWith('/') || file.startsWith('\\\\') || /^[A-Za-z]:[\\/]/.test(file);
}

/** The message for an external data file shorter than its graph reads (`holds`: how much the file has). */
function shortDataMessage(path: string, graph: string, extent: number, holds: string): string {
  return `${path} is shorter than ${graph} needs: its tensors read ${extent} bytes from it and ${holds}`;
}

/** What bounds the requests of a folder read over HTTP (a folder on disk ignores them). */
export interface FolderOptions {
  /** Aborts every request at once; they reject with its reason (the load's signal). */
  readonly signal?: AbortSignal | undefined;
  /** Longest the server may stay silent, in ms: before answering, and between body chunks (default {@link FETCH_TIMEOUT_MS}). */
  readonly fetchTimeoutMs?: number | undefined;
}

/** Picks the folder kind for a location: HTTP(S) URLs and non-Node runtimes use fetch. */
export function openModelFolder(location: string, options: FolderOptions = {}): ModelFolder {
  const fs = nodeFs();
  const path = nodeBuiltin<NodePath>('node:path');
  return /^https?:\/\//i.test(location) || !fs || !path ? new HttpModelFolder(location, options) : new DiskModelFolder(location, fs, path);
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
  resolve(...paths: string[]): string;
  relative(from: string, to: string): string;
  isAbsolute(path: string): boolean;
  dirname(path: string): string;
  basename(path: string): string;
  join(...paths: string[]): string;
}

function nodeFs(): NodeFs | undefined {
  return nodeBuiltin<NodeFs>('node:fs/promises');
}

function nodeBuiltin<T>(id: string): T | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return proc?.getBuiltinModule?.(id) as T | undefined;
}

class DiskModelFolder implements ModelFolder {
  constructor(readonly location: string, private readonly fs: NodeFs, private readonly path: NodePath) {}

  resolve(file: string): string {
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
      const name = path.relative(folder, target);
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
    if (!info) throw new ModelLoadError(`Model folder ${this.location} does not exist.`, { path: this.location });
    if (!info.isDirectory()) {
      throw new ModelLoadError(`${this.location} is not a folder; point at a Hugging Face style model folder.`, { path: this.location });
    }
  }
}

/**
 * A folder served over HTTP. No request waits on a silent server longer than `fetchTimeoutMs` (for
 * its answer, then for each chunk of its body), and every request is aborted by the load's signal.
 */
class HttpModelFolder implements ModelFolder {
  private readonly timeoutMs: number;
  /** Graphs fetched for `externalDataFiles`, until `source` takes them. */
  private readonly graphs = new Map<string, Promise<Uint8Array>>();

  constructor(readonly location: string, private readonly options: FolderOptions) {
    this.timeoutMs = options.fetchTimeoutMs ?? FETCH_TIMEOUT_MS;
  }

  resolve(file: string): string {
    return joinPath(this.location, file);
  }

  async readText(file: string, options: { readonly pageIsMissing?: boolean } = {}): Promise<string | undefined> {
    const bytes = await this.request(file, 'GET', bodyOfAtMost(MAX_TEXT_FILE_BYTES, TEXT_FILE_ADVICE), options.pageIsMissing);
    return bytes === undefined ? undefined : new TextDecoder().decode(bytes);
  }

  size(file: string, options: { readonly pageIsMissing?: boolean } = {}): Promise<number | undefined> {
    return this.request(
      file,
      'HEAD',
      async (response) => {
        const length = Number(response.headers.get('content-length') ?? Number.NaN);
        return Number.isFinite(length) ? length : 1;
      },
      options.pageIsMissing,
    );
  }

  async externalDataFiles(file: string): Promise<readonly string[]> {
    return [...onnxExternalDataExtents(await this.graphBytes(file)).keys()];
  }

  async externalDataProblem(): Promise<ExternalDataProblem | undefined> {
    return undefined;
  }

  /** An absolute URL (or a path from the server's root) under the folder's URL: the rest of it. */
  async nameWithin(file: string): Promise<string | undefined> {
    const relative = !/^[A-Za-z][A-Za-z\d+.-]*:/.test(file) && !looksAbsolute(file);
    try {
      const folder = absoluteUrl(this.resolve(''));
      const url = new URL(file, folder).href;
      if (!url.startsWith(folder) || url.length === folder.length) return undefined;
      // A relative name is kept as given once it stays inside (`../other/model.onnx` does not).
      return relative ? file : url.slice(folder.length);
    } catch {
      return undefined;
    }
  }

  async source(file: string): Promise<ModelSource> {
    const graph = this.resolve(file);
    const bytes = await this.graphBytes(file);
    // The bytes now travel with the source; the folder need not keep them.
    this.graphs.delete(file);
    const extents = onnxExternalDataExtents(bytes);
    if (extents.size === 0) return { kind: 'bytes', bytes };
    // The graph keeps tensors in files beside it (`model.onnx_data`): they travel with its bytes.
    const folder = folderOf(file);
    const externalData: ExternalDataFile[] = [];
    for (const [location, extent] of extents) {
      const name = folder + checkExternalDataLocation(location, graph);
      // The check above keeps the name inside the folder; the URL it makes must say the same.
      if (!absoluteUrl(this.resolve(name)).startsWith(absoluteUrl(this.resolve(folder)))) {
        throw new ModelLoadError(`${graph} names an external data file at ${JSON.stringify(location)}, outside the graph's folder.`, { path: graph });
      }
      // No bigger than the graph's tensors read from it: an endless answer stops there.
      const data = await this.request(name, 'GET', bodyOfAtMost(extent, EXTERNAL_DATA_ADVICE));
      const url = this.resolve(name);
      if (data === undefined) throw new ModelLoadError(`${graph} keeps tensors in ${location}, but ${url} was not found.`, { path: url });
      // As long as the graph reads, at least: a short body would fail in the backend with its own words.
      if (Number.isFinite(extent) && data.byteLength < extent) {
        throw new ModelLoadError(shortDataMessage(url, graph, extent, `the server sent ${data.byteLength} (an interrupted upload?); check the file on the server.`), { path: url });
      }
      externalData.push({ path: location, data });
    }
    return { kind: 'bytes', bytes, externalData };
  }

  /** A graph's bytes, fetched once for `externalDataFiles` and `source` together. */
  private graphBytes(file: string): Promise<Uint8Array> {
    let bytes = this.graphs.get(file);
    if (!bytes) {
      const graph = this.resolve(file);
      bytes = this.request(file, 'GET', bodyOfAtMost(MAX_GRAPH_BYTES, GRAPH_ADVICE)).then((found) => {
        if (found === undefined) throw new ModelLoadError(`${graph} was not found.`, { path: graph });
        return found;
      });
      this.graphs.set(file, bytes);
    }
    return bytes;
  }

  async assertExists(): Promise<void> {
    if ((await this.size('config.json')) === undefined) {
      throw new ModelLoadError(`No model at ${this.location}: ${this.resolve('config.json')} was not found.`, { path: this.location });
    }
  }

  /**
   * Fetches `file` and reads its response with `read` (which restarts the guard's timer as data
   * arrives); undefined when the server answers 404.
   */
  private async request<T>(
    file: string,
    method: 'GET' | 'HEAD',
    read: (response: Response, url: string, guard: RequestGuard) => Promise<T>,
    pageIsMissing = false,
  ): Promise<T | undefined> {
    const url = this.resolve(file);
    const guard = new RequestGuard(this.options.signal, this.timeoutMs);
    try {
      const response = await answer(url, method, guard.signal, pageIsMissing);
      if (!response) return undefined;
      guard.restartTimer(); // the server answered: the body's first chunk gets a window of its own
      return await read(response, url, guard);
    } catch (cause) {
      throw guard.reason(url) ?? cause;
    } finally {
      guard.end();
    }
  }
}

/**
 * The abort signal of one request: aborted by the load's signal, or when `ms` pass with nothing
 * from the server (`restartTimer` on each chunk received).
 */
class RequestGuard {
  private readonly controller = new AbortController();
  private timer: ReturnType<typeof setTimeout>;
  private timedOut = false;
  private readonly onAbort = (): void => this.controller.abort(this.outer?.reason);
  private readonly onSilence = (): void => {
    this.timedOut = true;
    this.controller.abort();
  };

  constructor(private readonly outer: AbortSignal | undefined, private readonly ms: number) {
    this.timer = setTimeout(this.onSilence, ms);
    if (outer?.aborted) this.onAbort();
    else outer?.addEventListener('abort', this.onAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Data arrived: the server has another `ms` for the next. */
  restartTimer(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(this.onSilence, this.ms);
  }

  end(): void {
    clearTimeout(this.timer);
    this.outer?.removeEventListener('abort', this.onAbort);
  }

  /** What a failed request rejects with once aborted: the load's reason, or the timeout; else undefined. */
  reason(url: string): unknown {
    if (this.outer?.aborted) return this.outer.reason;
    if (!this.timedOut) return undefined;
    return new ModelLoadError(`Fetching ${url}: the server sent nothing for fetchTimeoutMs (${this.ms} ms); check that it answers, or raise fetchTimeoutMs for a slow one.`, {
      path: url,
    });
  }
}

/**
 * The server's response to a request, or undefined for 404 (and for an HTML page, with
 * `pageIsMissing`); other failures are `ModelLoadError`s naming the URL.
 */
async function answer(url: string, method: 'GET' | 'HEAD', signal: AbortSignal, pageIsMissing = false): Promise<Response | undefined> {
  let response: Response;
  try {
    response = await fetch(url, { method, signal });
  } catch (cause) {
    throw new ModelLoadError(`Cannot fetch ${url}: ${fetchFailure(cause)}`, { path: url, cause });
  }
  if (!response.ok) await response.body?.cancel().catch(() => {});
  if (response.status === 404) return undefined;
  if (!response.ok) throw new ModelLoadError(`Cannot fetch ${url}: HTTP ${response.status}`, { path: url });
  // Single-page-app servers answer a missing file with their page and status 200; read as the
  // file, the page would fail as "not valid JSON" or a corrupt graph.
  if (/^\s*text\/html/i.test(response.headers.get('content-type') ?? '')) {
    await response.body?.cancel().catch(() => {});
    if (pageIsMissing) return undefined;
    throw new ModelLoadError(
      `${url} was served as an HTML page (content-type text/html), not the file: the server seems to answer missing files with a page; make it answer 404 for them.`,
      { path: url },
    );
  }
  return response;
}

/**
 * A reader of a response's whole body, chunk by chunk so that each chunk restarts `guard`'s timer;
 * a `ModelLoadError` naming the URL when the connection fails mid-body, or when the body is (or is
 * announced as) longer than `maxBytes` (`advice` ends that message). With a `content-length` (and
 * no content encoding, which fetch undoes) the chunks are copied into one array of that size as
 * they arrive, so a large graph takes its own size in memory at the peak, not twice that (kept
 * chunks, then the joined copy). The array starts at 16 MiB at most and grows to the announced
 * size only once that much has arrived, so a header alone never buys a large allocation.
 */
function bodyOfAtMost(maxBytes: number, advice: string) {
  return (response: Response, url: string, guard: RequestGuard): Promise<Uint8Array> =>
    readResponseBytes(response, url, () => guard.restartTimer(), { maxBytes, advice });
}

const TEXT_FILE_ADVICE = 'config and tokenizer files are far smaller: check that the folder holds the right file';
const EXTERNAL_DATA_ADVICE = "the graph's tensors read no further: check that the file belongs to this graph";
const GRAPH_ADVICE = "an ONNX graph file cannot be larger (protobuf's limit); bigger models keep their weights in external data files (model.onnx_data)";

/** The first array {@link readResponseBytes} allocates for an announced body, at most. */
const FIRST_ALLOCATION = 16 * 1024 * 1024;

/** Bounds of {@link readResponseBytes}. */
export interface ReadLimits {
  /** Size of the first array for an announced body, at most (default 16 MiB; tests set less). */
  readonly firstAllocation?: number;
  /** A body longer than this (announced or as it arrives) is a `ModelLoadError` (default: none). */
  readonly maxBytes?: number;
  /** Ends the message of that error. */
  readonly advice?: string;
}

/**
 * What {@link bodyOfAtMost} reads with, `onData` called as each chunk arrives (exported for tests). A body that
 * turns out longer than announced goes on as chunks; a shorter one (a length the server gave for
 * another encoding) is what arrived. Past `maxBytes` the download is cancelled.
 */
export async function readResponseBytes(response: Response, url: string, onData: () => void, limits: ReadLimits = {}): Promise<Uint8Array> {
  const { firstAllocation = FIRST_ALLOCATION, maxBytes = Number.POSITIVE_INFINITY, advice = '' } = limits;
  const declared = declaredLength(response);
  if (declared !== undefined && declared > maxBytes) {
    await response.body?.cancel().catch(() => {});
    throw tooLarge(url, declared, maxBytes, advice);
  }
  let filled = declared === undefined ? undefined : allocate(Math.min(declared, firstAllocation));
  let offset = 0;
  const chunks: Uint8Array[] = [];
  const reader = response.body?.getReader();
  try {
    for (let next = await reader?.read(); next && !next.done; next = await reader!.read()) {
      onData();
      const chunk = next.value;
      const end = offset + chunk.length;
      if (end > maxBytes) {
        await reader!.cancel().catch(() => {});
        throw tooLarge(url, undefined, maxBytes, advice);
      }
      if (filled && end > filled.length && declared !== undefined && end <= declared) {
        // As much has arrived as the first array holds, and the announced size is still right: grow once.
        const grown = allocate(declared);
        grown?.set(filled.subarray(0, offset));
        filled = grown ?? filled;
      }
      if (filled && end <= filled.length) {
        filled.set(chunk, offset);
      } else {
        if (filled) chunks.push(filled.subarray(0, offset));
        filled = undefined;
        chunks.push(chunk);
      }
      offset = end;
    }
  } catch (cause) {
    if (cause instanceof ModelLoadError) throw cause;
    throw new ModelLoadError(`Cannot fetch ${url}: the download broke off (${(cause as Error).message}).`, { path: url, cause });
  }
  if (filled) return offset === filled.length ? filled : filled.slice(0, offset);
  return chunks.length === 1 ? chunks[0]! : concatBytes(chunks);
}

/**
 * The body's length in bytes as the server declared it, when the body arrives as sent: not
 * encoded, and not a cross-origin response in a browser, where a `content-encoding` the server
 * does not expose would go unseen.
 */
function declaredLength(response: Response): number | undefined {
  if (response.type === 'cors' || response.type === 'opaque') return undefined;
  const encoding = response.headers.get('content-encoding');
  if (encoding !== null && encoding.trim().toLowerCase() !== 'identity') return undefined;
  const text = response.headers.get('content-length');
  if (text === null || !/^\s*\d+\s*$/.test(text)) return undefined;
  const length = Number(text);
  return Number.isSafeInteger(length) ? length : undefined;
}

/** The error for a file past its size limit. */
function tooLarge(path: string, size: number | undefined, limit: number, advice: string): ModelLoadError {
  const tail = advice === '' ? '.' : `: ${advice}.`;
  const what = size === undefined ? `${path} is larger than` : `${path} has ${bytesText(size)}, more than`;
  return new ModelLoadError(`${what} the ${bytesText(limit)} Weft reads for it${tail}`, { path });
}

/** `n` bytes for a message: in MiB when it is a whole number of them, else exactly. */
function bytesText(n: number): string {
  return n >= 2 ** 20 && n % 2 ** 20 === 0 ? `${n / 2 ** 20} MiB` : `${n} bytes`;
}

/** A zeroed array of `length` bytes, or undefined when it cannot be had at once (then the body is read as chunks). */
function allocate(length: number): Uint8Array | undefined {
  try {
    return new Uint8Array(length);
  } catch {
    return undefined;
  }
}

/** Reads and parses a JSON file of the folder; `undefined` when optional and absent. */
export async function readJson(folder: ModelFolder, file: string, required: boolean): Promise<unknown> {
  const path = folder.resolve(file);
  const text = await folder.readText(file);
  if (text === undefined) {
    if (!required) return undefined;
    throw new ModelLoadError(`Cannot read ${path}: the model folder needs ${file}.`, { path });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new ModelLoadError(`${path} is not valid JSON: ${(cause as Error).message}`, { path, cause });
  }
}

/** Reads a JSON file of the folder that must hold an object; `undefined` when absent. */
export async function readJsonObject(folder: ModelFolder, file: string): Promise<Record<string, unknown> | undefined> {
  const value = await readJson(folder, file, false);
  return value === undefined ? undefined : requireJsonObject(value, folder.resolve(file));
}


/** The graph to load (file name within the folder): the named file, or the first candidate that exists. */
export async function findGraph(folder: ModelFolder, onnxFile: string | undefined): Promise<string> {
  const candidates = onnxFile ? [onnxFile] : GRAPH_CANDIDATES;
  for (const file of candidates) {
    // Searching, a server's HTML page in place of a candidate (single-page-app servers such as
    // Vite's answer missing files so) means that candidate is absent; a graph named by `onnxFile`
    // served as a page is an error saying so.
    const size = await folder.size(file, { pageIsMissing: onnxFile === undefined });
    if (size === undefined) continue;
    const path = folder.resolve(file);
    if (size === 0) throw new ModelLoadError(`${path} is empty.`, { path });
    return file;
  }
  throw new ModelLoadError(`No ONNX graph in ${folder.location}: looked for ${candidates.join(', ')}.`, { path: folder.location });
}

/**
 * Why `fetch` threw. Node's fetch says only "fetch failed" and keeps the reason (a refused
 * connection, an unknown host, a bad certificate) in its `cause`, so the innermost message that
 * says more is added in brackets: `fetch failed (connect ECONNREFUSED 127.0.0.1:8000)`.
 */
function fetchFailure(error: unknown): string {
  const message = describeCause(error);
  let reason: string | undefined;
  let cause = causeOf(error);
  for (let depth = 0; cause !== undefined && depth < 8; depth++) {
    const text = cause instanceof AggregateError && cause.message === '' ? cause.errors.map((e) => describeCause(e)).join('; ') : describeCause(cause);
    if (text !== '' && text !== message) reason = text;
    cause = causeOf(cause);
  }
  if (reason === undefined && BROWSER_FETCH_FAILURE.test(message)) return `${message} (${BROWSER_FETCH_ADVICE})`;
  return reason === undefined || message.includes(reason) ? message : `${message} (${reason})`;
}

/** What browsers say, and only say, when a fetch fails (Chromium, Firefox, Safari). */
const BROWSER_FETCH_FAILURE = /^(?:Failed to fetch|NetworkError when attempting to fetch resource\.?|Load failed)$/;
const BROWSER_FETCH_ADVICE =
  "the browser gives no reason: the server may be unreachable, or refuse this page's origin; a model folder on another origin must send Access-Control-Allow-Origin";

function causeOf(error: unknown): unknown {
  try {
    return error instanceof Error ? error.cause : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `url` made absolute: as it is when it has a scheme, else against the page's address (a
 * browser's `weft.load('/models/story/')` fetches relative to the page, as `fetch` does).
 */
function absoluteUrl(url: string): string {
  const base = (globalThis as { location?: { href?: unknown } }).location?.href;
  return new URL(url, typeof base === 'string' ? base : undefined).href;
}
