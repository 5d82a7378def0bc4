import { BackendError } from '@weft/core';

/** What `new Worker(url, options)` takes, as far as this file reads it. */
type WorkerConstructor = new (url: string | URL, options?: { readonly name?: string }) => EventTarget;

/** A watch on the workers onnxruntime-web starts for its wasm threads; see {@link watchThreadWorkers}. */
export interface ThreadWorkerWatch {
  /** Rejects with a `BackendError` once a thread worker fails to start; never resolves. */
  readonly failed: Promise<never>;
  /** Ends the watch (every call to `watchThreadWorkers` needs one). */
  stop(): void;
}

interface Watch {
  readonly scope: { Worker?: unknown };
  readonly original: WorkerConstructor;
  readonly proxy: WorkerConstructor;
  readonly failed: Promise<never>;
  users: number;
}

let current: Watch | undefined;

/**
 * Watches the workers onnxruntime-web's wasm starts for its threads while it initialises
 * (Emscripten names them `em-pthread…`). onnxruntime-web waits for each to report that it loaded
 * and, when the browser refuses one (on a cross-origin isolated page, a worker script served
 * without the page's `Cross-Origin-Embedder-Policy` header), it waits for ever: the worker's
 * `error` event fires before Emscripten listens for it. `failed` turns that event into a
 * `BackendError`. The same event, as an `ErrorEvent` with a message, is a worker that loaded and
 * then threw (a bundler put onnxruntime-web's thread worker into a chunk with the page's code);
 * the error then says that instead of blaming headers. Works by wrapping `scope.Worker` until
 * the last watch stops; undefined where there is no `Worker` constructor. Concurrent watches share one wrapper.
 */
export function watchThreadWorkers(scope: { Worker?: unknown } = globalThis): ThreadWorkerWatch | undefined {
  if (!current) {
    const original = scope.Worker;
    if (typeof original !== 'function') return undefined;
    let fail!: (error: BackendError) => void;
    const failed = new Promise<never>((_, reject) => (fail = reject));
    // Nobody may be listening when the last watch stops before a worker fails.
    failed.catch(() => undefined);
    const proxy = new Proxy(original as WorkerConstructor, {
      construct(target, args: [string | URL, { readonly name?: string }?], newTarget) {
        const worker = Reflect.construct(target, args, newTarget) as EventTarget;
        if (args[1]?.name?.startsWith('em-pthread') === true) {
          const url = String(args[0]);
          // Only while watched: a thread that fails once onnxruntime-web is up is not this case.
          worker.addEventListener('error', (event) => current === watch && fail(threadWorkerError(url, scriptErrorOf(event))), { once: true });
        }
        return worker;
      },
    });
    const watch: Watch = { scope, original: original as WorkerConstructor, proxy, failed, users: 0 };
    current = watch;
    scope.Worker = proxy;
  }
  const watch = current;
  watch.users++;
  let stopped = false;
  return {
    failed: watch.failed,
    stop() {
      if (stopped) return;
      stopped = true;
      if (--watch.users > 0) return;
      // Put the constructor back unless something replaced the wrapper meanwhile.
      if (watch.scope.Worker === watch.proxy) watch.scope.Worker = watch.original;
      if (current === watch) current = undefined;
    },
  };
}

/**
 * The message of a script error: an `ErrorEvent` (read by shape, so tests under Node.js can fake
 * one) whose `message` is not empty. A worker script the browser refused fires a plain `Event`.
 */
function scriptErrorOf(event: Event): string | undefined {
  const message = (event as Partial<ErrorEvent>).message;
  return typeof message === 'string' && message.trim() !== '' ? message.trim() : undefined;
}

function threadWorkerError(url: string, scriptError: string | undefined): BackendError {
  // The fix first: Weft cuts a backend's message to 300 characters when a load fails.
  if (scriptError !== undefined) {
    const quoted = scriptError.length > 80 ? `${scriptError.slice(0, 79)}…` : scriptError;
    return new BackendError(
      `onnxruntime-web's wasm thread worker threw a script error ("${quoted}"): likely bundled into a chunk with app code. Serve onnxruntime-web's own files (onnxruntime-web-use-extern-wasm condition + wasmPaths; see @weft/backend-web's README) or numThreads: 1. Worker: ${url}`,
      { backend: 'web' },
    );
  }
  return new BackendError(
    `onnxruntime-web's wasm threads could not start (it would have waited for ever): serve its files (wasmPaths) with the page's Cross-Origin-Embedder-Policy header, or set numThreads: 1, then reload the page. The browser refused the thread worker ${url}`,
    { backend: 'web' },
  );
}
