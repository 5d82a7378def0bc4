import { describe, expect, it } from 'vitest';
import { freezeWasmSettings, noteSessionAttempt, runtimeConflict } from '../src/load-runtime.js';

/**
 * Which failed first sessions leave the process's build open. onnxruntime-web starts its wasm
 * before a WebGPU or WebNN backend: a GPU backend that fails to start leaves that build running
 * (review 30: another build could then start beside it), while one that is not in the build at
 * all ("backend not found") started nothing. Fake modules: only `env.wasm.numThreads` is read.
 */
const build = () => ({ env: { wasm: { numThreads: 1 } } }) as unknown as Parameters<typeof runtimeConflict>[0];

describe('a first session that failed', () => {
  it('leaves the build open when nothing started, and holds the process when a GPU backend failed after the wasm started', () => {
    const wasmOnly = build();
    const other = build();
    // The wasm-only build asked for WebGPU, which it does not have: nothing started.
    noteSessionAttempt(wasmOnly, new Error('no available backend found. ERR: [webgpu] backend not found.'));
    freezeWasmSettings(wasmOnly);
    expect(runtimeConflict(other)).toBeUndefined();
    // The WebGPU build's GPU failed to start, after its wasm had.
    const webgpu = build();
    noteSessionAttempt(webgpu, new Error('no available backend found. ERR: [webgpu] RuntimeError: failed to request an adapter'));
    freezeWasmSettings(webgpu);
    expect(runtimeConflict(webgpu)).toBeUndefined();
    expect(runtimeConflict(other)).toMatch(/already runs in this process from another build/);
  });
});
