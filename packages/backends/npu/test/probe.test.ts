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

  it('rejects bad per-load options', async () => {
    const adapter = new NpuBackendAdapter({ facts: FACTS.linuxX64 });
    await expect(adapter.createSession({ kind: 'path', path: 'x' }, { executionProviders: ['tensorrt'] })).rejects.toThrow(InvalidOptionsError);
  });

  it('keeps the plugin version in step with package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(VERSION).toBe(pkg.version);
  });
});
