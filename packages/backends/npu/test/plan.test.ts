import { describe, expect, it } from 'vitest';
import { planProviders, type PlatformFacts } from '../src/index.js';
import { FACTS } from './helpers.js';

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
});
