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
