import { ModelLoadError } from '../errors/model-load-error.js';
import type { ModelSource } from '../spec/backend.js';
import { requireJsonObject } from '../util/json-object.js';

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

/** Ends the message for a config or tokenizer file past {@link MAX_TEXT_FILE_BYTES}. */
export const TEXT_FILE_ADVICE = 'config and tokenizer files are far smaller: check that the folder holds the right file';

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
export function folderOf(file: string): string {
  return file.includes('/') ? file.slice(0, file.lastIndexOf('/') + 1) : '';
}

/** Absolute as a path on some system: `/…`, a Windows drive (`C:\…`, `C:/…`) or share (`\\server\…`). */
export function looksAbsolute(file: string): boolean {
  return file.startsWith('/') || file.startsWith('\\\\') || /^[A-Za-z]:[\\/]/.test(file);
}

/** The message for an external data file shorter than its graph reads (`holds`: how much the file has). */
export function shortDataMessage(path: string, graph: string, extent: number, holds: string): string {
  return `${path} is shorter than ${graph} needs: its tensors read ${extent} bytes from it and ${holds}`;
}

/** What bounds the requests of a folder read over HTTP (a folder on disk ignores them). */
export interface FolderOptions {
  /** Aborts every request at once; they reject with its reason (the load's signal). */
  readonly signal?: AbortSignal | undefined;
  /** Longest the server may stay silent, in ms: before answering, and between body chunks (default {@link FETCH_TIMEOUT_MS}). */
  readonly fetchTimeoutMs?: number | undefined;
  /** Most bytes of external data fetched for one graph, all its files together (default 4 GiB; tests set less). */
  readonly maxExternalDataBytes?: number | undefined;
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
    // A file saved as UTF-16 (Windows editors) reads as text with a NUL after each ASCII
    // character, which the parser's message would print raw to a terminal.
    if (text.includes('\0')) {
      throw new ModelLoadError(`${path} is not valid JSON: it holds NUL bytes, as a file saved as UTF-16 does; save it as UTF-8.`, { path, cause });
    }
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
