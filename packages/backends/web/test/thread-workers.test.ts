import { BackendError } from '@weft/core';
import { describe, expect, it } from 'vitest';
import { watchThreadWorkers } from '../src/thread-workers.js';

// The real case (a browser refusing onnxruntime-web's thread worker) is driven in Chromium by
// examples/browser/test/web-backend.test.ts; here a scope of its own stands in for `globalThis`,
// with a Worker class whose instances are event targets the test fires `error` on.
class FakeWorker extends EventTarget {
  constructor(
    readonly url: string | URL,
    readonly options?: { readonly name?: string },
  ) {
    super();
  }
}

/** What `promise` settled with once every pending callback has run (a macrotask later): its error, 'resolved' or 'pending'. */
async function settledOf(promise: Promise<unknown>): Promise<unknown> {
  let settled: unknown = 'pending';
  promise.then(
    () => (settled = 'resolved'),
    (e: unknown) => (settled = e),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

describe('watchThreadWorkers', () => {
  it("rejects once a wasm thread worker (em-pthread…) fails to start, naming its script and what to serve; other workers' errors are not its business", async () => {
    const scope: { Worker?: unknown } = { Worker: FakeWorker };
    const watch = watchThreadWorkers(scope)!;
    const Ctor = scope.Worker as typeof FakeWorker;
    expect(Ctor).not.toBe(FakeWorker);
    const other = new Ctor('/app-worker.js', { name: 'mine' });
    const thread = new Ctor(new URL('http://localhost/ort/ort-wasm-simd-threaded.jsep.mjs'), { name: 'em-pthread' });
    // The instances are the real class's, with its arguments.
    expect(thread).toBeInstanceOf(FakeWorker);
    expect(thread.options).toEqual({ name: 'em-pthread' });
    other.dispatchEvent(new Event('error'));
    expect(await settledOf(watch.failed)).toBe('pending');
    thread.dispatchEvent(new Event('error'));
    const error = (await settledOf(watch.failed)) as BackendError;
    expect(error).toBeInstanceOf(BackendError);
    expect(error.message).toMatch(
      /^onnxruntime-web's wasm threads could not start .*Cross-Origin-Embedder-Policy header, or set numThreads: 1, then reload the page\. The browser refused the thread worker http:\/\/localhost\/ort\/ort-wasm-simd-threaded\.jsep\.mjs$/,
    );
    watch.stop();
    expect(scope.Worker).toBe(FakeWorker);
  });

  it('says a thread worker that loaded but threw (an ErrorEvent with a message) hit a script error, quoting it, instead of blaming headers', async () => {
    const scope: { Worker?: unknown } = { Worker: FakeWorker };
    const watch = watchThreadWorkers(scope)!;
    const thread = new (scope.Worker as typeof FakeWorker)('http://localhost:5173/assets/index-abc.js', { name: 'em-pthread-1' });
    // What Chromium fires when a Vite 8 chunk holding onnxruntime-web's worker also runs the page's code.
    // (Node.js has no ErrorEvent: an Event with a message stands in for one; the backend reads it by shape.)
    thread.dispatchEvent(Object.assign(new Event('error'), { message: 'Uncaught ReferenceError: document is not defined' }));
    const error = (await settledOf(watch.failed)) as BackendError;
    watch.stop();
    expect(error).toBeInstanceOf(BackendError);
    expect(error.message).toBe(
      `onnxruntime-web's wasm thread worker threw a script error ("Uncaught ReferenceError: document is not defined"): likely bundled into a chunk with app code. Serve onnxruntime-web's own files (onnxruntime-web-use-extern-wasm condition + wasmPaths; see @weft/backend-web's README) or numThreads: 1. Worker: http://localhost:5173/assets/index-abc.js`,
    );
    expect(error.message).not.toMatch(/Cross-Origin-Embedder-Policy|refused/);
  });

  it('keeps the refused-load message for an error event whose message is empty (what a refused worker script fires)', async () => {
    const scope: { Worker?: unknown } = { Worker: FakeWorker };
    const watch = watchThreadWorkers(scope)!;
    const thread = new (scope.Worker as typeof FakeWorker)('/ort/ort-wasm-simd-threaded.jsep.mjs', { name: 'em-pthread' });
    thread.dispatchEvent(Object.assign(new Event('error'), { message: '  ' }));
    const error = (await settledOf(watch.failed)) as BackendError;
    watch.stop();
    expect(error.message).toMatch(/Cross-Origin-Embedder-Policy header, .*The browser refused the thread worker \/ort\/ort-wasm-simd-threaded\.jsep\.mjs$/);
  });

  it('watches nothing once stopped; concurrent watches share one wrapper, put back after the last stops', async () => {
    const scope: { Worker?: unknown } = { Worker: FakeWorker };
    const first = watchThreadWorkers(scope)!;
    const wrapper = scope.Worker;
    const second = watchThreadWorkers(scope)!;
    expect(scope.Worker).toBe(wrapper);
    const thread = new (scope.Worker as typeof FakeWorker)('/ort/x.mjs', { name: 'em-pthread' });
    first.stop();
    first.stop(); // a second stop of the same watch changes nothing
    expect(scope.Worker).toBe(wrapper);
    second.stop();
    expect(scope.Worker).toBe(FakeWorker);
    // A thread that fails after onnxruntime-web started (watch over) is not a failure to start.
    thread.dispatchEvent(new Event('error'));
    expect(await settledOf(first.failed)).toBe('pending');
    // A new watch is a new one, not failed by the old thread.
    const third = watchThreadWorkers(scope)!;
    expect(await settledOf(third.failed)).toBe('pending');
    third.stop();
  });

  it('is undefined where there is no Worker constructor (Node.js)', () => {
    expect(watchThreadWorkers({})).toBeUndefined();
  });
});
