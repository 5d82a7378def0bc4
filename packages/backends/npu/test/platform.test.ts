import { afterEach, describe, expect, it, vi } from 'vitest';
import { detectPlatformFacts, planProviders, preferredProviders } from '../src/index.js';
import { WEBNN_PROBE_TIMEOUT_MS } from '../src/platform.js';

/** A browser-like scope: no `process.versions.node`, a `navigator.ml` whose createContext is `create`. */
const browser = (create: () => unknown) => ({ navigator: { ml: { createContext: create } } });

describe('platform detection in a browser-like scope (injected globals; no WebNN device here)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('destroys the WebNN context it made only to see whether it can', async () => {
    let destroyed = 0;
    const facts = await detectPlatformFacts(browser(async () => ({ destroy: () => void destroyed++ })));
    expect(facts).toEqual({ platform: 'browser', arch: 'other', webnn: { npu: true } });
    expect(destroyed).toBe(1);
  });

  it('gives the reason of a createContext that rejects with a non-Error, or throws synchronously', async () => {
    expect((await detectPlatformFacts(browser(() => Promise.reject('NotSupportedError: no npu')))).webnn).toEqual({
      npu: false,
      reason: "navigator.ml.createContext({ deviceType: 'npu' }) failed: NotSupportedError: no npu",
    });
    const sync = await detectPlatformFacts(
      browser(() => {
        throw new TypeError('deviceType npu is not supported');
      }),
    );
    expect(sync.webnn).toEqual({ npu: false, reason: "navigator.ml.createContext({ deviceType: 'npu' }) failed: deviceType npu is not supported" });
  });

  it('takes a createContext that never answers as no NPU (detection, and so every later probe, used to hang)', async () => {
    vi.useFakeTimers();
    let arrive: (context: unknown) => void = () => {};
    let destroyed = 0;
    const pending = detectPlatformFacts(browser(() => new Promise((resolve) => (arrive = resolve))));
    await vi.advanceTimersByTimeAsync(WEBNN_PROBE_TIMEOUT_MS);
    expect((await pending).webnn).toEqual({ npu: false, reason: `navigator.ml.createContext({ deviceType: 'npu' }) did not answer within ${WEBNN_PROBE_TIMEOUT_MS} ms` });
    // A context that still arrives is destroyed.
    arrive({ destroy: () => void destroyed++ });
    await vi.runAllTimersAsync();
    expect(destroyed).toBe(1);
  });

  it('a Node-like scope with an unknown platform or arch plans no NPU provider', async () => {
    const facts = await detectPlatformFacts({ process: { versions: { node: '22.0.0' }, platform: 'freebsd', arch: 'riscv64' } });
    expect(facts).toMatchObject({ platform: 'other', arch: 'other', webnn: { npu: false, reason: 'Node.js has no WebNN' } });
    expect(preferredProviders(facts).providers).toEqual([]);
  });
});

describe('preferred providers on architectures without NPU providers', () => {
  it('Linux on 32-bit Arm, RISC-V…: no OpenVINO (an x64 Intel NPU provider) in the chain', () => {
    expect(preferredProviders({ platform: 'linux', arch: 'other' }).providers).toEqual([]);
    const plan = planProviders({ platform: 'linux', arch: 'other', runtimeProviders: [{ name: 'cpu', bundled: true }, { name: 'openvino', bundled: true }] });
    expect(plan.chain.map((p) => p.name)).toEqual(['cpu']);
    expect(plan.skipped).toEqual([]);
  });

  it('Windows on another arch keeps DirectML only', () => {
    expect(preferredProviders({ platform: 'win32', arch: 'other' }).providers).toEqual([{ name: 'dml' }]);
  });

  it('hands out a frozen plan: the ort objects cannot be changed on their way to onnxruntime', () => {
    const plan = planProviders({ platform: 'linux', arch: 'arm64', runtimeProviders: [{ name: 'cpu', bundled: true }, { name: 'qnn', bundled: false }] });
    expect(Object.isFrozen(plan.chain)).toBe(true);
    for (const p of plan.chain) {
      expect(Object.isFrozen(p)).toBe(true);
      expect(Object.isFrozen(p.ort)).toBe(true);
      expect(Object.isFrozen(p.options)).toBe(true);
    }
  });
});
