import { ModelLoadError } from '../errors/model-load-error.js';
import { WeftError } from '../errors/weft-error.js';
import type { BackendAdapter, InferenceSession, ModelSource, SessionOptions } from '../spec/backend.js';
import type { AdapterRegistry, Rejection } from '../spec/registry.js';
import { describeCause, quoteValue } from '../util/describe-cause.js';
import type { LoadTimeouts } from './load-timeouts.js';
import type { ExternalDataProblem } from './model-folder.js';
import { BackendSearch } from './select-backend.js';
import { withDeadline } from '../util/with-deadline.js';
import { waitAtMost } from '../backend/bounded-wait.js';
import { releaseOnArrival, releaseQuietly, type LateSessions } from '../backend/late-sessions.js';

export { releaseQuietly } from '../backend/late-sessions.js';

/** A backend with the session it opened on the graph. */
export interface OpenedBackend {
  readonly adapter: BackendAdapter;
  readonly session: InferenceSession;
  /** Backends passed over, with reasons (including ones whose session failed under `auto`). */
  readonly rejected: readonly Rejection[];
  /** Other available backends in priority order; probed only with `probeOthers`. */
  readonly others: readonly BackendAdapter[];
  /** The execution providers a backend's probe said it offers here, when it listed them. */
  readonly offered: (adapter: BackendAdapter) => readonly string[] | undefined;
}

/** What {@link openBackendSession} needs besides the registry. */
export interface OpenSessionOptions {
  /** A backend name, or `auto`. */
  readonly wanted: string;
  /** The graph as the backend gets it; fetched only once a backend is chosen (memoize it). */
  readonly source: () => Promise<ModelSource>;
  /**
   * The external data files the source would fetch as bytes (none from disk). Asked before the
   * source for a backend that does not take them as bytes, so that nothing is downloaded for it.
   */
  readonly externalDataFiles?: () => Promise<readonly string[]>;
  /** The graph's path or URL, for messages. */
  readonly graph: string;
  /**
   * What is wrong with the graph's files (an external data file missing or cut short), asked only
   * once a backend failed to open the graph; such a problem ends the load, as no other backend
   * would do better. Expected never to throw (a throw counts as nothing found).
   */
  readonly diagnose?: () => Promise<ExternalDataProblem | undefined>;
  readonly session?: SessionOptions | undefined;
  readonly timeouts: LoadTimeouts;
  /** Probe every other backend too (failover candidates). */
  readonly probeOthers: boolean;
  /** Aborts the load: waits end at once and a session that still arrives is released. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Where a session still opening when the load was aborted goes, to be released when it arrives:
   * the runtime's, so that its `dispose()` waits for those releases (each at most
   * `disposeTimeoutMs`). Without it they are released all the same, as is a session that arrives
   * after `sessionTimeoutMs` (which nothing waits for: it is hung as far as anyone can tell).
   */
  readonly lateSessions?: LateSessions | undefined;
}

/** A session that could not be opened, and whether another backend is worth trying. */
class SessionFailure {
  constructor(
    readonly error: Error,
    readonly reason: string,
    readonly tryNext: boolean,
  ) {}
}

/**
 * Selects a backend and opens the graph on it, each `createSession` bounded by
 * `sessionTimeoutMs` (a session that arrives later is released). With `auto`, a backend whose
 * session fails for a reason of its own (it throws, times out, or returns no session) is listed
 * as passed over and the next backend is tried; a graph that looks corrupt, an external data file
 * missing or cut short (`diagnose`), invalid session options, and any failure of a backend chosen
 * by name end the load with that error.
 */
export async function openBackendSession(registry: AdapterRegistry, options: OpenSessionOptions): Promise<OpenedBackend> {
  const { signal } = options;
  const search = new BackendSearch(registry, options.wanted, { probeTimeoutMs: options.timeouts.probeTimeoutMs, ...(signal ? { signal } : {}) });
  const failures: SessionFailure[] = [];
  /** Registry names of the backends whose sessions failed (the rest of `search.rejected` was passed over before). */
  const tried = new Set<string>();
  for (;;) {
    const adapter = await search.next();
    if (!adapter) throw failures.length === 0 ? search.failure() : combined(failures, options.graph, search.rejected, tried);
    const name = search.currentName ?? adapter.name;
    const outcome = await openSession(adapter, name, options);
    if (outcome instanceof SessionFailure) {
      if (!outcome.tryNext || options.wanted !== 'auto') throw outcome.error;
      search.rejectCurrent(outcome.reason);
      failures.push(outcome);
      tried.add(name);
      continue;
    }
    try {
      const others = options.probeOthers ? await search.rest() : search.skipRest();
      return { adapter, session: outcome, rejected: search.rejected, others, offered: (a) => search.offered(a) };
    } catch (error) {
      await releaseWithin(outcome, options.timeouts.disposeTimeoutMs);
      throw error;
    }
  }
}

async function openSession(adapter: BackendAdapter, name: string, options: OpenSessionOptions): Promise<InferenceSession | SessionFailure> {
  const { graph, signal } = options;
  const ms = options.timeouts.sessionTimeoutMs;
  // Fetching the graph (a URL folder) is bounded too: a server that stalls mid-file would
  // otherwise hang the load with no error.
  let source: ModelSource | SessionFailure;
  try {
    source = await withDeadline(() => sourceFor(adapter, name, options), {
      ms,
      onTimeout: () => new ModelLoadError(`Reading ${graph} did not finish within ${ms} ms (a stalled server?); raise sessionTimeoutMs for a slow download.`, { path: graph }),
      signal,
    });
  } catch (cause) {
    if (signal?.aborted) throw signal.reason;
    throw cause;
  }
  if (source instanceof SessionFailure) return source;
  const ready = source;
  let timedOut = false;
  let creation: unknown;
  let session: unknown;
  try {
    session = await withDeadline(() => (creation = adapter.createSession(ready, options.session)), {
      ms,
      onTimeout: () => {
        timedOut = true;
        return new Error(`createSession() did not finish within ${ms} ms`);
      },
      signal,
    });
  } catch (cause) {
    // Given up on while it opened: the session is released when it arrives; when the load was
    // aborted (not timed out), the runtime's dispose() waits for that too.
    if (creation !== undefined && signal?.aborted) lateSession(options, creation);
    else if (creation !== undefined && timedOut) releaseOnArrival(creation);
    if (signal?.aborted) throw signal.reason;
    if (timedOut) {
      const error = new ModelLoadError(`The ${name} backend did not open ${graph} within ${ms} ms; raise sessionTimeoutMs if the graph is that slow to load.`, { path: graph });
      return new SessionFailure(error, `createSession() timed out after ${ms} ms`, true);
    }
    // Option errors, missing files and the like are about the request, not the backend: pass them on.
    if (WeftError.isInstance(cause) && cause.code !== 'backend') return new SessionFailure(cause, describeCause(cause), false);
    // Only now, on the failure path, are the graph's files looked at: a missing or short data file
    // is said plainly, with the backend's words as the cause.
    const problem = await diagnosis(options);
    if (signal?.aborted) throw signal.reason;
    if (problem) return new SessionFailure(new ModelLoadError(problem.message, { path: problem.path, cause }), problem.message, false);
    const message = describeCause(cause);
    if (looksCorrupt(cause)) {
      return new SessionFailure(new ModelLoadError(`The ${name} backend could not load ${graph} (corrupt or truncated ONNX file?): ${message}`, { path: graph, cause }), message, false);
    }
    return new SessionFailure(new ModelLoadError(`The ${name} backend could not load ${graph}: ${message}`, { path: graph, cause }), `createSession() failed: ${message}`, true);
  }
  const problem = sessionProblem(session);
  if (problem !== undefined) {
    await releaseWithin(session, options.timeouts.disposeTimeoutMs);
    const error = new ModelLoadError(`The ${name} backend could not load ${graph}: createSession() returned ${problem}.`, { path: graph });
    return new SessionFailure(error, `createSession() returned ${problem}`, true);
  }
  return session as InferenceSession;
}

/**
 * The graph's source for `adapter`, or a failure (another backend may take it) when the graph's
 * tensors are in external data files that would arrive as bytes and the backend reads them only
 * from disk: refused after fetching the graph, before fetching those files.
 */
async function sourceFor(adapter: BackendAdapter, name: string, options: OpenSessionOptions): Promise<ModelSource | SessionFailure> {
  if (options.externalDataFiles && takesNoExternalDataBytes(adapter)) {
    const files = await options.externalDataFiles();
    if (files.length > 0) {
      const reason = `it reads external data files (${files.join(', ')}) only from disk, and ${options.graph} is fetched as bytes`;
      const error = new ModelLoadError(
        `The ${name} backend cannot load ${options.graph}: the graph keeps its tensors in external data files (${files.join(', ')}), which this backend reads only from disk, beside a graph file; nothing more was downloaded. Load the model from a folder on disk, or use a backend that takes them as bytes (the web backend, @weft/backend-web).`,
        { path: options.graph },
      );
      return new SessionFailure(error, reason, true);
    }
  }
  return options.source();
}

/** What `options.diagnose` finds; undefined when it is not given or fails. */
async function diagnosis(options: OpenSessionOptions): Promise<ExternalDataProblem | undefined> {
  try {
    return await options.diagnose?.();
  } catch {
    return undefined;
  }
}

/** A third-party adapter's `externalDataFromBytes: false`, read without trusting its getter. */
export function takesNoExternalDataBytes(adapter: BackendAdapter): boolean {
  try {
    return adapter.externalDataFromBytes === false;
  } catch {
    return false;
  }
}

/**
 * The error when every backend tried under `auto` failed to open the graph: each one's message
 * (a single failure's as it is), then the backends passed over before any session was tried
 * (unavailable, say), each with its reason; `rejectedBackends` lists them all.
 */
function combined(failures: readonly SessionFailure[], graph: string, rejected: readonly Rejection[], tried: ReadonlySet<string>): Error {
  const first = failures[0]!.error;
  const before = rejected.filter((r) => !tried.has(r.name));
  const also = (message: string): string =>
    before.length === 0 ? message : `${message}${/[.!?]$/.test(message) ? '' : '.'} Also passed over: ${before.map((r) => `${r.name} (${r.reason})`).join('; ')}.`;
  if (failures.length === 1) {
    // Every failure that lets `auto` go on is a ModelLoadError; its path and cause stay.
    const path = ModelLoadError.isInstance(first) ? first.path : graph;
    const cause = ModelLoadError.isInstance(first) ? first.cause : first;
    return new ModelLoadError(also(first.message), { ...(path !== undefined ? { path } : {}), cause, rejectedBackends: rejected });
  }
  return new ModelLoadError(also(`No backend could load ${graph}: ${failures.map((f) => f.error.message).join(' | ')}`), { path: graph, cause: first, rejectedBackends: rejected });
}

/** Parse failures as onnxruntime (node and web) report them: "Protobuf parsing failed." */
const CORRUPT_GRAPH = /protobuf|pars(?:e|ing) (?:failed|error)|corrupt|truncat/i;

/** Whether a backend's error (or one of its causes) says the graph file does not parse. */
function looksCorrupt(cause: unknown): boolean {
  let current = cause;
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth++) {
    if (CORRUPT_GRAPH.test(describeCause(current))) return true;
    try {
      current = (current as { cause?: unknown }).cause;
    } catch {
      return false;
    }
  }
  return false;
}

/** Why `value` is not an inference session, or undefined when it looks like one. */
function sessionProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return `${quoteValue(value)}, not a session`;
  try {
    const s = value as Record<string, unknown>;
    const missing = ['run', 'release', 'createTensor'].filter((m) => typeof s[m] !== 'function');
    if (missing.length > 0) return `an object without ${missing.map((m) => `${m}()`).join(', ')}, not a session`;
    if (!Array.isArray(s['inputNames']) || !Array.isArray(s['outputNames'])) return 'a session without inputNames and outputNames lists';
  } catch (cause) {
    return `a session that could not be read (${describeCause(cause)})`;
  }
  return undefined;
}

/**
 * {@link releaseQuietly}, waited for at most `ms`: a load that fails must not hang on a backend
 * whose `release()` never settles (the release goes on; nobody waits for it).
 */
export async function releaseWithin(session: unknown, ms: number): Promise<void> {
  await waitAtMost(releaseQuietly(session), ms);
}

/** Hands a session given up on while it opened to the runtime's late sessions (or releases it on arrival). */
function lateSession(options: OpenSessionOptions, creation: unknown): void {
  if (options.lateSessions) options.lateSessions.add(creation, options.timeouts.disposeTimeoutMs);
  else releaseOnArrival(creation);
}
