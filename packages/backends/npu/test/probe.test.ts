import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nodeBackend } from '@weft/backend-node';
import { createWeft, InvalidOptionsError } from '@weft/core';
import { NpuBackendAdapter, VERSION, detectPlatformFacts, npuBackend, type NpuBackendOptions } from '../src/index.js';
import { FACTS, collect, tinyModel } from './helpers.js';

// Machines whose stock onnxruntime-node can list an NPU provider (Core ML on Apple silicon) or
// whose chain could load one are not "this machine": the no-NPU checks run elsewhere.
const mayHaveNpu = (process.platform === 'darwin' && process.arch === 'arm64') || process.platform === 'win32';

describe.skipIf(mayHaveNpu)('npu probe on this machine (no NPU)', () => {
  it('detects the platform and the providers onnxruntime-node lists', async () => {
    const facts = await detectPlatformFacts();
    expect(facts.platform).toBe(process.platform);
    expect(facts.runtimeProviders?.map((p) => p.name)).toContain('cpu');
    expect(facts.webnn).toEqual({ npu: false, reason: 'Node.js has no WebNN' });
  });

  it('reports unavailable, with the reason', async () => {
    const probe = await new NpuBackendAdapter().probe();
    expect(probe.available).toBe(false);
    expect(probe.reason).toMatch(new RegExp(`^no NPU execution provider is usable on ${process.platform} `));
    if (process.platform === 'linux' && process.arch === 'x64') expect(probe.reason).toMatch(/openvino: not offered: .*no onnxruntime JavaScript binding \(1\.30\) can append OpenVINO/);
  });

  it('`auto` picks node here, and the start event says why npu was passed over', async () => {
    const weft = createWeft({ plugins: [npuBackend(), nodeBackend({ defaults: { intraOpNumThreads: 1 } })] });
    await weft.ready();
    expect(weft.registry.list('backend').map((e) => [e.name, e.priority])).toEqual([['npu', 150], ['node', 100]]);
    const model = await weft.load(tinyModel);
    expect(model.backend).toBe('node');
    const start = (await collect(model.generate({ prompt: 'Hi', maxTokens: 1 }))).find((e) => e.type === 'start');
    expect(start).toMatchObject({ backend: 'node', rejectedBackends: [{ name: 'npu', reason: expect.stringMatching(/^unavailable: no NPU execution provider is usable/) }] });
    await weft.dispose();
  });

  it('with facts of a machine that has an NPU provider, the probe says available (planning only) and lists the chain', async () => {
    expect(await new NpuBackendAdapter({ facts: FACTS.macArm }).probe()).toEqual({ available: true, executionProviders: ['coreml', 'cpu'], reason: undefined });
    const qnn = await new NpuBackendAdapter({ facts: FACTS.windowsArmQnn }).probe();
    expect(qnn).toMatchObject({ available: true, executionProviders: ['qnn', 'dml', 'cpu'], reason: expect.stringMatching(/qnn: listed as not bundled/) });
    // DirectML targets GPUs: alone it does not make the npu backend available.
    expect(await new NpuBackendAdapter({ facts: FACTS.windowsX64 }).probe()).toMatchObject({ available: false });
  });
});

describe('npu probe with injected facts', () => {
  it('Core ML named on an Intel Mac does not make the probe available: it would run on the CPU (it said available)', async () => {
    const probe = await new NpuBackendAdapter({ facts: FACTS.macIntel, providers: ['coreml'] }).probe();
    expect(probe).toEqual({
      available: false,
      reason:
        "no NPU execution provider is usable on darwin x64 (fallback 'cpu' needs one; add nodeBackend() or, in a browser, webBackend() to run on the CPU): coreml: Intel Macs have no Neural Engine: with requireNeuralEngine (the default) Core ML takes no part of the graph and onnxruntime runs all of it on its CPU provider",
    });
    const offload = await new NpuBackendAdapter({ facts: FACTS.macIntel, providers: ['coreml'], requireFullOffload: true }).probe();
    expect(offload).toMatchObject({ available: false, reason: expect.stringMatching(/coreml: Intel Macs have no Neural Engine: .*, which requireFullOffload refuses$/) });
  });

  it('plans with defaults.executionProviders, as createSession does (it planned the platform order)', async () => {
    const adapter = new NpuBackendAdapter({ facts: FACTS.macArm, defaults: { executionProviders: ['cpu'] } });
    expect((await adapter.plan()).chain.map((p) => p.name)).toEqual(['cpu']);
    expect(await adapter.probe()).toMatchObject({ available: false, reason: "no NPU execution provider is usable on darwin arm64 (fallback 'cpu' needs one; add nodeBackend() or, in a browser, webBackend() to run on the CPU): this platform has no NPU provider in the chain" });
    // A load's own list still wins over defaults.
    expect((await adapter.plan({ executionProviders: ['coreml', 'cpu'] })).chain.map((p) => p.name)).toEqual(['coreml', 'cpu']);
  });
});

describe('npu options', () => {
  it.each<[string, unknown]>([
    ['priority', { priority: Infinity }],
    ['fallback', { fallback: 'gpu' }],
    ['requireFullOffload', { requireFullOffload: 'yes' }],
    ['onEvent', { onEvent: 'log' }],
    ['sessionFactory', { sessionFactory: {} }],
    ['providers', { providers: [] }],
    ['providers', { providers: ['qnn', { name: 'qnn' }] }],
    ['providers[0]', { providers: [{ name: 'qnn', htp_performance_mode: 'burst' }] }],
    ['facts.platform', { facts: { platform: 'windows', arch: 'x64' } }],
    ['facts.arch', { facts: { platform: 'win32', arch: 'amd64' } }],
    ['defaults.executionProviders', { defaults: { executionProviders: ['cuda'] } }],
    ['defaults.intraOpNumThreads', { defaults: { intraOpNumThreads: 1.5 } }],
    ['defaults', { defaults: null }],
    ['defaults', { defaults: 'x' }],
    ['defaults.threads', { defaults: { threads: 2 } }],
  ])('rejects a bad %s with InvalidOptionsError', (option, options) => {
    expect(() => npuBackend(options as NpuBackendOptions)).toThrow(InvalidOptionsError);
    try {
      npuBackend(options as NpuBackendOptions);
    } catch (error) {
      expect((error as InvalidOptionsError).option).toContain(option);
    }
  });

  it('checks what a facts() function returns; one that throws is a BackendError and is asked again', async () => {
    const path = { kind: 'path', path: 'x.onnx' } as const;
    const odd = new NpuBackendAdapter({ facts: async () => ({ platform: 'linux', arch: 'x64', runtimeProviders: 'cpu' }) as never });
    await expect(odd.createSession(path)).rejects.toMatchObject({ code: 'invalid-options', option: 'facts.runtimeProviders', message: expect.stringMatching(/^facts\(\)\.runtimeProviders must be/) });
    expect(await odd.probe()).toMatchObject({ available: false, reason: expect.stringMatching(/facts\(\)\.runtimeProviders must be/) });
    await expect(new NpuBackendAdapter({ facts: async () => undefined as never }).createSession(path)).rejects.toThrow(/facts\(\) must resolve to an object/);

    let calls = 0;
    const flaky = new NpuBackendAdapter({
      facts: async () => {
        if (++calls === 1) throw new Error('sysfs not mounted yet');
        return FACTS.macArm;
      },
    });
    expect(await flaky.probe()).toEqual({ available: false, reason: "The npu backend's facts() failed: sysfs not mounted yet" });
    expect(await flaky.probe()).toMatchObject({ available: true, executionProviders: ['coreml', 'cpu'] });
    expect(calls).toBe(2);
    await expect(new NpuBackendAdapter({ facts: () => Promise.reject(new Error('no')) }).createSession(path)).rejects.toMatchObject({ code: 'backend', backend: 'npu' });
  });

  it('rejects bad per-load options', async () => {
    const adapter = new NpuBackendAdapter({ facts: FACTS.linuxX64 });
    await expect(adapter.createSession({ kind: 'path', path: 'x' }, { executionProviders: ['tensorrt'] })).rejects.toThrow(InvalidOptionsError);
    for (const options of [null, []]) {
      await expect(adapter.createSession({ kind: 'path', path: 'x' }, options as never)).rejects.toMatchObject({ code: 'invalid-options', option: 'session' });
    }
  });

  it('keeps the plugin version in step with package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(VERSION).toBe(pkg.version);
  });
});
