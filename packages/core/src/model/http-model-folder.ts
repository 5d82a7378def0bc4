import { ModelLoadError } from '../errors/model-load-error.js';
import type { ExternalDataFile, ModelSource } from '../spec/backend.js';
import { describeCause } from '../util/describe-cause.js';
import { FETCH_TIMEOUT_MS, MAX_TIMEOUT_MS } from './load-timeouts.js';
import {
  folderOf,
  joinPath,
  looksAbsolute,
  MAX_GRAPH_BYTES,
  MAX_TEXT_FILE_BYTES,
  shortDataMessage,
  TEXT_FILE_ADVICE,
  type ExternalDataProblem,
  type FolderOptions,
  type ModelFolder,
} from './model-folder.js';
import { checkExternalDataLocation, onnxExternalDataExtents } from './onnx-external-data.js';
import { readResponseBytes } from './read-response-bytes.js';

/**
 * Most bytes of external data (`model.onnx_data` and the like) fetched over HTTP for one graph,
 * all its files together (4 GiB): they are held in memory, and a browser's WebAssembly runtime
 * addresses no more. A tensor entry without a `length` reads "to the end of the file", so without
 * this bound a server's endless answer would be read until memory ran out.
 */
export const MAX_EXTERNAL_DATA_BYTES = 2 ** 32;

/**
 * How many times `fetchTimeoutMs` a small file (config, generation config, tokenizer files, chat
 * template) may take to arrive in all: a server that trickles a byte now and then is never silent
 * for `fetchTimeoutMs`, and would otherwise hold the load open for ever (5 min by default).
 */
export const TEXT_FILE_DEADLINE_FACTOR = 10;

/**
 * A folder served over HTTP. No request waits on a silent server longer than `fetchTimeoutMs` (for
 * its answer, then for each chunk of its body), a small file takes at most
 * {@link TEXT_FILE_DEADLINE_FACTOR} times that in all, and every request is aborted by the load's
 * signal.
 */
export class HttpModelFolder implements ModelFolder {
  private readonly timeoutMs: number;
  /** Graphs fetched for `externalDataFiles`, until `source` takes them. */
  private readonly graphs = new Map<string, Promise<Uint8Array>>();
  /** Whether the server refused a HEAD request (405 or 501): sizes are then read from a GET's headers. */
  private headRefused = false;

  constructor(readonly location: string, private readonly options: FolderOptions) {
    this.timeoutMs = options.fetchTimeoutMs ?? FETCH_TIMEOUT_MS;
  }

  resolve(file: string): string {
    return joinPath(this.location, file);
  }

  async readText(file: string, options: { readonly pageIsMissing?: boolean } = {}): Promise<string | undefined> {
    const deadlineMs = Math.min(this.timeoutMs * TEXT_FILE_DEADLINE_FACTOR, MAX_TIMEOUT_MS);
    const bytes = await this.request(file, 'GET', bodyOfAtMost(MAX_TEXT_FILE_BYTES, TEXT_FILE_ADVICE), options.pageIsMissing, deadlineMs);
    return bytes === undefined ? undefined : new TextDecoder().decode(bytes);
  }

  /**
   * The file's `content-length` from a HEAD request (1 when the server gives none). A server that
   * refuses HEAD (405, 501: some object stores and static hosts) is asked with a GET instead, its
   * body cancelled once the headers are in, for this and every later size.
   */
  async size(file: string, options: { readonly pageIsMissing?: boolean } = {}): Promise<number | undefined> {
    if (!this.headRefused) {
      try {
        return await this.request(file, 'HEAD', async (response) => lengthOf(response), options.pageIsMissing);
      } catch (error) {
        if (!(error instanceof HeadRefused)) throw error;
        this.headRefused = true;
      }
    }
    return this.request(
      file,
      'GET',
      async (response) => {
        const length = lengthOf(response);
        await response.body?.cancel().catch(() => {});
        return length;
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
      // Percent-escapes compare case-blind (`%3a` is `%3A`), as URLs define them; the URL parser
      // keeps them as written.
      const folder = upperCaseEscapes(absoluteUrl(this.resolve('')));
      const url = upperCaseEscapes(new URL(file, folder).href);
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
    // What the files may still hold, all together (an extent without end is bounded by it too).
    const cap = this.options.maxExternalDataBytes ?? MAX_EXTERNAL_DATA_BYTES;
    let left = cap;
    for (const [location, extent] of extents) {
      const name = folder + checkExternalDataLocation(location, graph);
      // The check above keeps the name inside the folder; the URL it makes must say the same.
      if (!absoluteUrl(this.resolve(name)).startsWith(absoluteUrl(this.resolve(folder)))) {
        throw new ModelLoadError(`${graph} names an external data file at ${JSON.stringify(location)}, outside the graph's folder.`, { path: graph });
      }
      const url = this.resolve(name);
      if (extent > left && Number.isFinite(extent)) {
        throw new ModelLoadError(
          `${graph} reads ${extent} bytes from ${url}, but Weft fetches at most ${bytesText(cap)} of external data over HTTP for one graph, all its files together${left < cap ? ` (${left} bytes left after its other files)` : ''}: ${EXTERNAL_DATA_CAP_ADVICE}.`,
          { path: url },
        );
      }
      // No bigger than the graph's tensors read from it (an endless answer stops there), nor than
      // what is left of the bound on all the graph's external data.
      const advice = extent <= left ? EXTERNAL_DATA_ADVICE : `Weft fetches at most ${bytesText(cap)} of external data over HTTP for one graph, all its files together; ${EXTERNAL_DATA_CAP_ADVICE}`;
      const data = await this.request(name, 'GET', bodyOfAtMost(Math.min(extent, left), advice));
      if (data === undefined) throw new ModelLoadError(`${graph} keeps tensors in ${location}, but ${url} was not found.`, { path: url });
      // As long as the graph reads, at least: a short body would fail in the backend with its own words.
      if (Number.isFinite(extent) && data.byteLength < extent) {
        throw new ModelLoadError(shortDataMessage(url, graph, extent, `the server sent ${data.byteLength} (an interrupted upload?); check the file on the server.`), { path: url });
      }
      left -= data.byteLength;
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
   * arrives); undefined when the server answers 404. With `deadlineMs`, the whole request (answer
   * and body) must be done within that many ms, however steadily data arrives.
   */
  private async request<T>(
    file: string,
    method: 'GET' | 'HEAD',
    read: (response: Response, url: string, guard: RequestGuard) => Promise<T>,
    pageIsMissing = false,
    deadlineMs?: number,
  ): Promise<T | undefined> {
    const url = this.resolve(file);
    const guard = new RequestGuard(this.options.signal, this.timeoutMs, deadlineMs);
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
 * The abort signal of one request: aborted by the load's signal, when `ms` pass with nothing
 * from the server (`restartTimer` on each chunk received), or when `deadlineMs` pass in all.
 */
class RequestGuard {
  private readonly controller = new AbortController();
  private timer: ReturnType<typeof setTimeout>;
  private readonly deadline: ReturnType<typeof setTimeout> | undefined;
  private timedOut: 'silence' | 'deadline' | undefined;
  private readonly onAbort = (): void => this.controller.abort(this.outer?.reason);
  private readonly onSilence = (): void => {
    this.timedOut ??= 'silence';
    this.controller.abort();
  };
  private readonly onDeadline = (): void => {
    this.timedOut ??= 'deadline';
    this.controller.abort();
  };

  constructor(private readonly outer: AbortSignal | undefined, private readonly ms: number, private readonly deadlineMs?: number) {
    this.timer = setTimeout(this.onSilence, ms);
    if (deadlineMs !== undefined) this.deadline = setTimeout(this.onDeadline, deadlineMs);
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
    clearTimeout(this.deadline);
    this.outer?.removeEventListener('abort', this.onAbort);
  }

  /** What a failed request rejects with once aborted: the load's reason, or the timeout; else undefined. */
  reason(url: string): unknown {
    if (this.outer?.aborted) return this.outer.reason;
    if (this.timedOut === undefined) return undefined;
    if (this.timedOut === 'deadline') {
      return new ModelLoadError(
        `Fetching ${url}: the file did not arrive within ${this.deadlineMs} ms (${TEXT_FILE_DEADLINE_FACTOR} × fetchTimeoutMs), though the server kept sending; check the server, or raise fetchTimeoutMs for a slow one.`,
        { path: url },
      );
    }
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
  if (method === 'HEAD' && (response.status === 405 || response.status === 501)) throw new HeadRefused();
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

/** `n` bytes for a message: in MiB when a whole number of them, else exactly. */
function bytesText(n: number): string {
  return n >= 2 ** 20 && n % 2 ** 20 === 0 ? `${n / 2 ** 20} MiB` : `${n} bytes`;
}

/** A server's refusal of a HEAD request: the folder asks with a GET instead (never reaches callers). */
class HeadRefused extends Error {}

/** A response's `content-length`, or 1 when it gives none (the file exists; its size is unknown). */
function lengthOf(response: Response): number {
  const length = Number(response.headers.get('content-length') ?? Number.NaN);
  return Number.isFinite(length) ? length : 1;
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

const EXTERNAL_DATA_ADVICE = "the graph's tensors read no further: check that the file belongs to this graph";
const EXTERNAL_DATA_CAP_ADVICE = 'load a model this large from a folder on disk (its backend reads external data from there itself)';
const GRAPH_ADVICE = "an ONNX graph file cannot be larger (protobuf's limit); bigger models keep their weights in external data files (model.onnx_data)";

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

/** `url` with every percent-escape in upper case (`%3a` → `%3A`), so equal URLs compare equal. */
function upperCaseEscapes(url: string): string {
  return url.replace(/%[\da-f]{2}/gi, (escape) => escape.toUpperCase());
}

/**
 * `url` made absolute: as it is when it has a scheme, else against the page's address (a
 * browser's `weft.load('/models/story/')` fetches relative to the page, as `fetch` does).
 */
function absoluteUrl(url: string): string {
  const base = (globalThis as { location?: { href?: unknown } }).location?.href;
  return new URL(url, typeof base === 'string' ? base : undefined).href;
}
