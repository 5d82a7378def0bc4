import { describe, expect, it } from 'vitest';
import { planProviders, type PlatformFacts } from '../src/index.js';
import { FACTS, invalidOptions } from './helpers.js';

const summary = (facts: PlatformFacts, options = {}) => {
  const plan = planProviders(facts, options);
  return { chain: plan.chain.map((p) => ({ ort: p.ort, device: p.device, ...(p.note ? { note: p.note } : {}) })), skipped: plan.skipped };
};

describe('provider chain per platform', () => {
  it('Windows on Arm with a QNN build: QNN (HTP) → DirectML → CPU', () => {
    expect(summary(FACTS.windowsArmQnn)).toEqual({
      chain: [
        { ort: { name: 'qnn', backendType: 'htp', enableFp16Precision: true }, device: 'npu', note: 'listed as not bundled: its runtime libraries must be installed separately' },
        { ort: { name: 'dml', deviceId: 0 }, device: 'gpu' },
        { ort: { name: 'cpu' }, device: 'cpu' },
      ],
      skipped: [],
    });
  });

  it('Windows on Arm with the published onnxruntime-node: QNN skipped with the reason', () => {
    const plan = summary(FACTS.windowsArmStock);
    expect(plan.chain.map((p) => p.ort)).toEqual([{ name: 'dml', deviceId: 0 }, { name: 'cpu' }]);
    expect(plan.skipped).toEqual([
      {
        provider: 'qnn',
        reason: 'not offered: the installed onnxruntime offers cpu, dml, webgpu; the published onnxruntime-node binaries are built without QNN; a QNN build of onnxruntime-node is needed',
      },
    ]);
  });

  it('Windows x64: OpenVINO (NPU) skipped (no JS binding), DirectML → CPU', () => {
    const plan = summary(FACTS.windowsX64);
    expect(plan.chain.map((p) => p.ort)).toEqual([{ name: 'dml', deviceId: 0 }, { name: 'cpu' }]);
    expect(plan.skipped).toEqual([
      { provider: 'openvino', reason: 'not offered: the installed onnxruntime offers cpu, dml, webgpu; no onnxruntime JavaScript binding (1.30) can append OpenVINO' },
    ]);
  });

  it('Windows x64 with a runtime that lists OpenVINO: its options use onnxruntime keys', () => {
    const facts: PlatformFacts = { ...FACTS.windowsX64, runtimeProviders: [...FACTS.windowsX64.runtimeProviders, { name: 'openvino', bundled: true }] };
    expect(summary(facts).chain[0]).toEqual({ ort: { name: 'openvino', device_type: 'NPU' }, device: 'npu' });
  });

  it('macOS on Apple silicon and iOS: Core ML (ML Program, Neural Engine devices) → CPU', () => {
    const expected = { chain: [{ ort: { name: 'coreml', coreMlFlags: 0x014 }, device: 'npu' }, { ort: { name: 'cpu' }, device: 'cpu' }], skipped: [] };
    expect(summary(FACTS.macArm)).toEqual(expected);
    expect(summary(FACTS.ios)).toEqual(expected);
  });

  it('Intel Macs: no Core ML (no Neural Engine), CPU only', () => {
    expect(summary(FACTS.macIntel)).toEqual({ chain: [{ ort: { name: 'cpu' }, device: 'cpu' }], skipped: [{ provider: 'coreml', reason: 'Intel Macs have no Neural Engine' }] });
  });

  it('Android: QNN → NNAPI (accelerators only) → CPU', () => {
    expect(summary(FACTS.android).chain).toEqual([
      { ort: { name: 'qnn', backendType: 'htp', enableFp16Precision: true }, device: 'npu', note: 'listed as not bundled: its runtime libraries must be installed separately' },
      { ort: { name: 'nnapi', useFP16: false, useNCHW: false, cpuDisabled: true, cpuOnly: false }, device: 'npu' },
      { ort: { name: 'cpu' }, device: 'cpu' },
    ]);
  });

  it('Linux: OpenVINO on x64, QNN on arm64, each skipped without a runtime that has it', () => {
    expect(summary(FACTS.linuxX64).chain.map((p) => p.ort)).toEqual([{ name: 'cpu' }]);
    expect(summary(FACTS.linuxX64).skipped.map((s) => s.provider)).toEqual(['openvino']);
    expect(summary(FACTS.linuxArm).skipped.map((s) => s.provider)).toEqual(['qnn']);
  });

  it('browsers: WebNN with an NPU context → wasm; without WebNN, wasm with the reason', () => {
    expect(summary(FACTS.browserNpu).chain).toEqual([
      { ort: { name: 'webnn', deviceType: 'npu' }, device: 'npu' },
      { ort: { name: 'wasm' }, device: 'cpu' },
    ]);
    expect(summary(FACTS.browserNoWebNn)).toEqual({
      chain: [{ ort: { name: 'wasm' }, device: 'cpu' }],
      skipped: [{ provider: 'webnn', reason: 'navigator.ml is undefined (WebNN is not enabled in this browser)' }],
    });
  });

  it('onnxruntime-node missing: every native provider skipped with the load error', () => {
    const plan = planProviders({ platform: 'darwin', arch: 'arm64', runtimeError: 'cannot find module' });
    expect(plan.chain).toEqual([]);
    expect(plan.skipped.map((s) => s.reason)).toEqual([
      'onnxruntime-node is not loadable here: cannot find module',
      'onnxruntime-node is not loadable here: cannot find module',
    ]);
  });

  it('explicit providers replace the platform order; `only` filters and reorders; fallback none drops the CPU', () => {
    const providers = [{ name: 'dml', deviceId: 2 }, { name: 'qnn', backendPath: 'C:/qnn/QnnHtp.dll' }] as const;
    expect(planProviders(FACTS.windowsArmQnn, { providers }).chain.map((p) => p.ort)).toEqual([
      { name: 'dml', deviceId: 2 },
      { name: 'qnn', backendPath: 'C:/qnn/QnnHtp.dll', enableFp16Precision: true },
      { name: 'cpu' },
    ]);
    expect(planProviders(FACTS.windowsArmQnn, { providers, only: ['qnn', 'cpu'] }).chain.map((p) => p.name)).toEqual(['qnn', 'cpu']);
    expect(planProviders(FACTS.windowsArmQnn, { fallback: 'none' }).chain.map((p) => p.name)).toEqual(['qnn', 'dml']);
  });

  it('`only` (a load\'s executionProviders) is exactly the chain, in order: the CPU is not appended', () => {
    expect(planProviders(FACTS.windowsArmQnn, { only: ['qnn'] }).chain.map((p) => p.name)).toEqual(['qnn']);
    expect(planProviders(FACTS.windowsArmQnn, { only: ['cpu', 'qnn'] }).chain.map((p) => p.name)).toEqual(['cpu', 'qnn']);
    expect(planProviders(FACTS.browserNpu, { only: ['webnn'] }).chain.map((p) => p.name)).toEqual(['webnn']);
  });

  it("fallback: 'none' refuses cpu or wasm named in providers or only (it used to plan them)", () => {
    const refused = invalidOptions;
    const viaProviders = refused(() => planProviders(FACTS.windowsArmQnn, { providers: [{ name: 'qnn' }, { name: 'cpu' }], fallback: 'none' }));
    expect(viaProviders.option).toBe('providers');
    expect(viaProviders.message).toBe("providers names cpu, but the npu backend's fallback is 'none', which never runs a load on the CPU provider; leave cpu out, or set fallback: 'cpu'.");
    expect(refused(() => planProviders(FACTS.windowsArmQnn, { only: ['qnn', 'cpu'], fallback: 'none' })).option).toBe('executionProviders');
    expect(refused(() => planProviders(FACTS.browserNpu, { only: ['webnn', 'wasm'], fallback: 'none' })).option).toBe('executionProviders');
    expect(planProviders(FACTS.windowsArmQnn, { only: ['qnn'], fallback: 'none' }).chain.map((p) => p.name)).toEqual(['qnn']);
  });
});

describe('Core ML named on an Intel Mac (no Neural Engine)', () => {
  const coreml = (options: Record<string, unknown> = {}) => [{ name: 'coreml', ...options }] as never;
  const NO_ANE =
    'Intel Macs have no Neural Engine: with requireNeuralEngine (the default) Core ML takes no part of the graph and onnxruntime runs all of it on its CPU provider';

  it('is planned on the CPU, with the reason, where it used to be planned as an NPU', () => {
    expect(summary(FACTS.macIntel, { providers: coreml() })).toEqual({
      chain: [
        { ort: { name: 'coreml', coreMlFlags: 0x014 }, device: 'cpu', note: NO_ANE },
        { ort: { name: 'cpu' }, device: 'cpu' },
      ],
      skipped: [],
    });
    // Named by a load: the same, and no longer listed as skipped too (the platform order's skip).
    expect(summary(FACTS.macIntel, { only: ['coreml'] })).toEqual({ chain: [{ ort: { name: 'coreml', coreMlFlags: 0x014 }, device: 'cpu', note: NO_ANE }], skipped: [] });
    expect(summary(FACTS.macIntel, { only: ['cpu'] })).toEqual({ chain: [{ ort: { name: 'cpu' }, device: 'cpu' }], skipped: [] });
    // cpuAndGpu keeps the Neural Engine flag: Core ML still declines.
    expect(summary(FACTS.macIntel, { providers: coreml({ computeUnits: 'cpuAndGpu' }) }).chain[0]).toMatchObject({ device: 'cpu', note: NO_ANE });
  });

  it('without requireNeuralEngine it is a GPU provider; cpuOnly stays the CPU it asks for', () => {
    expect(summary(FACTS.macIntel, { providers: coreml({ requireNeuralEngine: false }) }).chain[0]).toEqual({
      ort: { name: 'coreml', coreMlFlags: 0x010 },
      device: 'gpu',
      note: 'Intel Macs have no Neural Engine: Core ML can use only the GPU and the CPU',
    });
    expect(summary(FACTS.macIntel, { providers: coreml({ computeUnits: 'cpuOnly' }) }).chain[0]).toEqual({ ort: { name: 'coreml', coreMlFlags: 0x015 }, device: 'cpu' });
  });

  it("is skipped under requireFullOffload or fallback: 'none', which refuse a graph run on the CPU provider", () => {
    expect(planProviders(FACTS.macIntel, { providers: coreml(), requireFullOffload: true }).skipped).toEqual([{ provider: 'coreml', reason: `${NO_ANE}, which requireFullOffload refuses` }]);
    const none = planProviders(FACTS.macIntel, { only: ['coreml'], fallback: 'none' });
    expect(none.chain).toEqual([]);
    expect(none.skipped).toEqual([{ provider: 'coreml', reason: `${NO_ANE}, which fallback: 'none' refuses` }]);
    // Without the Neural Engine flag Core ML can still take the graph (on the GPU): kept.
    expect(planProviders(FACTS.macIntel, { providers: coreml({ requireNeuralEngine: false }), requireFullOffload: true }).chain.map((p) => `${p.name}/${p.device}`)).toEqual(['coreml/gpu', 'cpu/cpu']);
  });

  it('Apple silicon is unchanged: Core ML is an NPU provider', () => {
    expect(summary(FACTS.macArm, { providers: coreml(), requireFullOffload: true }).chain[0]).toEqual({ ort: { name: 'coreml', coreMlFlags: 0x014 }, device: 'npu' });
  });
});
