import { describe, expect, it } from 'vitest';
import { WebBackendAdapter, wasmThreadsInUse } from '../src/index.js';
import { tinyModel } from './helpers.js';

// Its own file: onnxruntime-web's wasm settings are process-wide, and this test must be the one
// that starts its wasm (vitest runs each file in a fresh process here).
describe('web backend where wasm threads are not supported', () => {
  it('a numThreads that onnxruntime-web lowers to 1 still loads later models, whatever numThreads they ask for', async () => {
    const path = `${tinyModel}/onnx/model.onnx`;
    const sab = Object.getOwnPropertyDescriptor(globalThis, 'SharedArrayBuffer')!;
    // Without SharedArrayBuffer (a page that is not cross-origin isolated) onnxruntime-web falls back to one thread.
    delete (globalThis as { SharedArrayBuffer?: unknown }).SharedArrayBuffer;
    const warn = console.warn;
    console.warn = () => {};
    let first;
    try {
      first = await new WebBackendAdapter({ numThreads: 2 }).createSession({ kind: 'path', path });
    } finally {
      Object.defineProperty(globalThis, 'SharedArrayBuffer', sab);
      console.warn = warn;
    }
    expect(wasmThreadsInUse()).toBe(1);
    const again = await new WebBackendAdapter({ numThreads: 2 }).createSession({ kind: 'path', path });
    const one = await new WebBackendAdapter({ numThreads: 1 }).createSession({ kind: 'path', path });
    // Without threads any value runs on one thread, so none is refused (with threads, a switch is: probe.test.ts).
    const three = await new WebBackendAdapter({ numThreads: 3 }).createSession({ kind: 'path', path });
    expect(wasmThreadsInUse()).toBe(1);
    await Promise.all([first.release(), again.release(), one.release(), three.release()]);
  });
});
