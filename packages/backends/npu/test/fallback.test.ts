import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nodeBackend } from '@weft/backend-node';
import { BackendError, createWeft, InvalidOptionsError, ModelLoadError, type InferenceSession } from '@weft/core';
import { WebBackendAdapter } from '@weft/backend-web';
import {
  NpuBackendAdapter,
  NpuSession,
  defaultSessionFactory,
  npuBackend,
  toOrtNodeSessionOptions,
  toWebBackendOptions,
  type NpuEvent,
  type NpuSessionFactory,
  type ProviderName,
} from '../src/index.js';
import { FACTS, collect, done, tinyGraph, tinyModel } from './helpers.js';

/**
 * A factory that fails the listed providers the way their runtimes report a missing NPU, and
 * creates every other session for real with the default factory (onnxruntime-node). No NPU run is
 * simulated: the only session that is ever created is a real onnxruntime CPU session.
 */
function failing(messages: Partial<Record<ProviderName, string>>): { factory: NpuSessionFactory; asked: ProviderName[] } {
  const asked: ProviderName[] = [];
  const factory: NpuSessionFactory = async (request) => {
    asked.push(request.provider.name);
    const message = messages[request.provider.name];
    if (message !== undefined) throw new Error(message);
    return defaultSessionFactory(request);
  };
  return { factory, asked };
}

const QNN_FAIL = 'QNN SetupBackend failed: unable to load backend QnnHtp.dll';
const DML_FAIL = 'DirectML: no adapter with deviceId 0 supports D3D_FEATURE_LEVEL_1_0_CORE';

describe('npu fallback chain', () => {
  it('Windows on Arm: QNN and DirectML fail, the chain ends on a real onnxruntime CPU session; every step is an event', async () => {
    const seen: NpuEvent[] = [];
    const { factory, asked } = failing({ qnn: QNN_FAIL, dml: DML_FAIL });
    const adapter = new NpuBackendAdapter({ facts: FACTS.windowsArmQnn, sessionFactory: factory, onEvent: (e) => seen.push(e) });
    const session = await adapter.createSession({ kind: 'path', path: tinyGraph }, { intraOpNumThreads: 1 });

    expect(asked).toEqual(['qnn', 'dml', 'cpu']);
    expect(seen.map((e) => `${e.type}${'provider' in e ? ` ${e.provider}` : ''}`)).toEqual([
      'plan',
      'provider-attempt qnn',
      'provider-failed qnn',
      'provider-attempt dml',
      'provider-failed dml',
      'provider-attempt cpu',
      'provider-selected cpu',
    ]);
    expect(adapter.events).toEqual(seen);
    expect(seen[1]).toEqual({ type: 'provider-attempt', provider: 'qnn', device: 'npu', ort: { name: 'qnn', backendType: 'htp', enableFp16Precision: true } });
    expect(seen[2]).toMatchObject({ type: 'provider-failed', provider: 'qnn', reason: QNN_FAIL });
    const selected = seen.at(-1);
    expect(selected).toEqual({
      type: 'provider-selected',
      provider: 'cpu',
      device: 'cpu',
      fallback: true,
      rejected: [
        { provider: 'qnn', stage: 'session', reason: QNN_FAIL },
        { provider: 'dml', stage: 'session', reason: DML_FAIL },
      ],
    });

    // The final session is a real onnxruntime-node CPU session running the tiny graph.
    expect(session).toBeInstanceOf(NpuSession);
    expect((session as NpuSession).provider).toBe('cpu');
    expect((session as NpuSession).device).toBe('cpu');
    expect(session.inputNames).toContain('input_ids');
    const feeds = {
      input_ids: session.createTensor('int64', new BigInt64Array([1n, 5n, 9n]), [1, 3]),
      attention_mask: session.createTensor('int64', new BigInt64Array([1n, 1n, 1n]), [1, 3]),
      position_ids: session.createTensor('int64', new BigInt64Array([0n, 1n, 2n]), [1, 3]),
      ...Object.fromEntries(session.inputNames.filter((n) => n.startsWith('past')).map((n) => [n, session.createTensor('float32', new Float32Array(0), [1, 2, 0, 8])])),
    };
    const out = await session.run(feeds, { fetches: ['logits'] });
    expect(out['logits']!.dims).toEqual([1, 3, 1024]);
    expect(Number.isFinite((out['logits']!.data as Float32Array)[0])).toBe(true);
    await session.release();
  });

  it.skipIf(process.platform === 'win32')('a provider the installed binary cannot append fails for real, and the chain moves on', async () => {
    // Facts claim DirectML (as on Windows); this Linux onnxruntime-node really rejects it.
    const adapter = new NpuBackendAdapter({ facts: FACTS.windowsX64 });
    const session = (await adapter.createSession({ kind: 'path', path: tinyGraph })) as NpuSession;
    const failed = adapter.events.find((e) => e.type === 'provider-failed');
    expect(failed).toMatchObject({ provider: 'dml', reason: expect.stringMatching(/\[dml\] backend not found/) });
    expect(adapter.events.find((e) => e.type === 'provider-skipped')).toMatchObject({ provider: 'openvino' });
    expect(session.provider).toBe('cpu');
    expect(session.rejected.map((r) => `${r.provider}/${r.stage}`)).toEqual(['openvino/plan', 'dml/session']);
    await session.release();
  });

  it('through weft.load: the npu backend falls back to the CPU and generates the same greedy ids as the node backend', async () => {
    const seen: NpuEvent[] = [];
    const { factory } = failing({ qnn: QNN_FAIL, dml: DML_FAIL });
    const weft = createWeft({
      plugins: [nodeBackend({ defaults: { intraOpNumThreads: 1 } }), npuBackend({ facts: FACTS.windowsArmQnn, sessionFactory: factory, onEvent: (e) => seen.push(e), defaults: { intraOpNumThreads: 1 } })],
    });
    const onNpu = await weft.load(tinyModel); // auto: npu (150) probes available with these facts
    expect(onNpu.backend).toBe('npu');
    expect(seen.at(-1)).toMatchObject({ type: 'provider-selected', provider: 'cpu' });
    const onNode = await weft.load(tinyModel, { backend: 'node' });
    const request = { prompt: ['Once upon a time', 'The dog'], maxTokens: 12, temperature: 0 };
    const a = done(await collect(onNpu.generate(request)));
    const b = done(await collect(onNode.generate(request)));
    expect(a.rows.map((r) => r.ids)).toEqual(b.rows.map((r) => r.ids));
    await weft.dispose();
  });

  it('every provider failing: an `exhausted` event and a BackendError listing each rejection', async () => {
    const { factory } = failing({ qnn: QNN_FAIL, dml: DML_FAIL, cpu: 'out of memory' });
    const adapter = new NpuBackendAdapter({ facts: FACTS.windowsArmStock, sessionFactory: factory });
    const error = await adapter.createSession({ kind: 'path', path: tinyGraph }).catch((e: unknown) => e);
    expect(BackendError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/No execution provider of the npu backend could load .*model\.onnx: qnn \(skipped: not offered: .*\); dml \(failed: DirectML: .*\); cpu \(failed: out of memory\)/);
    expect(adapter.events.at(-1)).toMatchObject({ type: 'exhausted', rejected: [{ provider: 'qnn' }, { provider: 'dml' }, { provider: 'cpu' }] });
  });

  it("fallback: 'none' stops at the last NPU provider", async () => {
    const { factory, asked } = failing({ coreml: 'CoreML: model compilation failed' });
    const adapter = new NpuBackendAdapter({ facts: FACTS.macArm, sessionFactory: factory, fallback: 'none' });
    await expect(adapter.createSession({ kind: 'path', path: tinyGraph })).rejects.toThrow(/coreml \(failed: CoreML: model compilation failed\)/);
    expect(asked).toEqual(['coreml']);
  });

  it('per-load executionProviders are exactly the chain: the CPU is not appended, so a named provider that fails fails the load', async () => {
    const { factory, asked } = failing({ qnn: QNN_FAIL });
    const adapter = new NpuBackendAdapter({ facts: FACTS.windowsArmQnn, sessionFactory: factory });
    await expect(adapter.createSession({ kind: 'path', path: tinyGraph }, { executionProviders: ['qnn'] })).rejects.toMatchObject({
      code: 'backend',
      message: expect.stringMatching(/: qnn \(failed: QNN SetupBackend failed: .*\)$/),
    });
    expect(asked).toEqual(['qnn']);
    // Naming the CPU keeps it.
    const session = (await adapter.createSession({ kind: 'path', path: tinyGraph }, { executionProviders: ['qnn', 'cpu'], intraOpNumThreads: 1 })) as NpuSession;
    expect(asked).toEqual(['qnn', 'qnn', 'cpu']);
    expect(session.provider).toBe('cpu');
    await session.release();
  });

  it("fallback: 'none' never runs a load on the CPU: cpu or wasm named anywhere is an InvalidOptionsError (cpu was tried)", async () => {
    const option = (make: () => unknown) => {
      try {
        make();
      } catch (error) {
        return InvalidOptionsError.isInstance(error) ? error.option : error;
      }
      return 'accepted';
    };
    expect(option(() => npuBackend({ fallback: 'none', providers: ['qnn', 'cpu'] }))).toBe('providers');
    expect(option(() => new NpuBackendAdapter({ fallback: 'none', providers: ['webnn', 'wasm'] }))).toBe('providers');
    expect(option(() => npuBackend({ fallback: 'none', defaults: { executionProviders: ['qnn', 'cpu'] } }))).toBe('defaults.executionProviders');
    expect(option(() => npuBackend({ fallback: 'cpu', providers: ['qnn', 'cpu'] }))).toBe('accepted');

    const { factory, asked } = failing({ qnn: QNN_FAIL });
    const seen: NpuEvent[] = [];
    const adapter = new NpuBackendAdapter({ facts: FACTS.windowsArmQnn, sessionFactory: factory, fallback: 'none', onEvent: (e) => seen.push(e) });
    await expect(adapter.createSession({ kind: 'path', path: tinyGraph }, { executionProviders: ['qnn', 'cpu'] })).rejects.toMatchObject({
      code: 'invalid-options',
      option: 'executionProviders',
      message: "executionProviders names cpu, but the npu backend's fallback is 'none', which never runs a load on the CPU provider; leave cpu out, or set fallback: 'cpu'.",
    });
    expect(asked).toEqual([]);
    expect(seen).toEqual([]);
    // Through weft.load the refusal ends the load (an options error), under auto too.
    const weft = createWeft({ plugins: [npuBackend({ facts: FACTS.windowsArmQnn, sessionFactory: factory, fallback: 'none' }), nodeBackend()] });
    await expect(weft.load(tinyModel, { session: { executionProviders: ['cpu'] } })).rejects.toMatchObject({ code: 'invalid-options', option: 'executionProviders' });
    await weft.dispose();
  });

  it('an InvalidOptionsError from the session factory ends the load, naming the provider (the chain moved on to the CPU)', async () => {
    const asked: ProviderName[] = [];
    const seen: NpuEvent[] = [];
    const refusal = new InvalidOptionsError('backendPath must name a QNN backend library.', { option: 'backendPath' });
    const factory: NpuSessionFactory = async (request) => {
      asked.push(request.provider.name);
      if (request.provider.name === 'qnn') throw refusal;
      return defaultSessionFactory(request);
    };
    const adapter = new NpuBackendAdapter({ facts: FACTS.windowsArmQnn, sessionFactory: factory, onEvent: (e) => seen.push(e) });
    const error = await adapter.createSession({ kind: 'path', path: tinyGraph }, { intraOpNumThreads: 1 }).catch((e: unknown) => e);
    expect(InvalidOptionsError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({
      option: 'backendPath',
      message: 'The qnn provider of the npu backend refused its options: backendPath must name a QNN backend library.',
      cause: refusal,
    });
    expect(asked).toEqual(['qnn']);
    // The attempt has its outcome event; no `exhausted`, since the chain did not run out.
    expect(seen.map((e) => `${e.type}${'provider' in e ? ` ${e.provider}` : ''}`)).toEqual(['plan', 'provider-attempt qnn', 'provider-failed qnn']);
    expect(seen.at(-1)).toMatchObject({ reason: 'backendPath must name a QNN backend library.', error: refusal });

    // Core ends the load on it too, under auto: the node backend is not tried either.
    const weft = createWeft({ plugins: [npuBackend({ facts: FACTS.windowsArmQnn, sessionFactory: factory, defaults: { intraOpNumThreads: 1 } }), nodeBackend()] });
    await expect(weft.load(tinyModel)).rejects.toMatchObject({ code: 'invalid-options', message: /^The qnn provider of the npu backend refused its options/ });
    await weft.dispose();
  });

  it('per-load executionProviders pick providers by name', async () => {
    const { factory, asked } = failing({});
    const adapter = new NpuBackendAdapter({ facts: FACTS.windowsArmQnn, sessionFactory: factory });
    const session = (await adapter.createSession({ kind: 'path', path: tinyGraph }, { executionProviders: ['cpu'] })) as NpuSession;
    expect(asked).toEqual(['cpu']);
    expect(session.rejected).toEqual([]);
    await session.release();
  });

  it('a corrupt graph fails on every provider with the parse error', async () => {
    const adapter = new NpuBackendAdapter({ facts: FACTS.linuxX64 });
    await expect(adapter.createSession({ kind: 'bytes', bytes: new Uint8Array([1, 2, 3, 4]) })).rejects.toThrow(/cpu \(failed: .*protobuf parsing failed/);
  });

  it('requireFullOffload asks onnxruntime to refuse CPU fallback inside NPU sessions only', () => {
    const planned = { name: 'qnn', device: 'npu', runtime: 'onnxruntime-node', options: { name: 'qnn' }, ort: { name: 'qnn', backendType: 'htp', enableFp16Precision: true } } as const;
    expect(toOrtNodeSessionOptions({ provider: planned, options: { intraOpNumThreads: 2 }, requireFullOffload: true })).toEqual({
      executionProviders: [{ name: 'qnn', backendType: 'htp', enableFp16Precision: true }],
      intraOpNumThreads: 2,
      logSeverityLevel: 3,
      extra: { session: { disable_cpu_ep_fallback: '1' } },
    });
    const cpu = { name: 'cpu', device: 'cpu', runtime: 'onnxruntime-node', options: { name: 'cpu' }, ort: { name: 'cpu' } } as const;
    expect(toOrtNodeSessionOptions({ provider: cpu, options: { logLevel: 'fatal' }, requireFullOffload: true })).toEqual({ executionProviders: [{ name: 'cpu' }], logSeverityLevel: 4 });
  });

  it('requireFullOffload reaches WebNN through the web backend, and not its wasm CPU fallback', () => {
    const webnn = { name: 'webnn', device: 'npu', runtime: 'onnxruntime-web', options: { name: 'webnn' }, ort: { name: 'webnn', deviceType: 'npu' } } as const;
    const full = toWebBackendOptions({ provider: webnn, requireFullOffload: true });
    expect(full).toEqual({ executionProviders: [{ name: 'webnn', deviceType: 'npu' }], requireFullOffload: true });
    expect(toWebBackendOptions({ provider: webnn, requireFullOffload: false })).toEqual({ executionProviders: [{ name: 'webnn', deviceType: 'npu' }] });
    const wasm = { name: 'wasm', device: 'cpu', runtime: 'onnxruntime-web', options: { name: 'wasm' }, ort: { name: 'wasm' } } as const;
    expect(toWebBackendOptions({ provider: wasm, requireFullOffload: true })).toEqual({ executionProviders: [{ name: 'wasm' }] });
    // The web backend takes both as they are (it refuses requireFullOffload with any provider but a lone webnn).
    expect(() => new WebBackendAdapter(full)).not.toThrow();
  });

  it('a factory that throws a non-Error or returns no session fails that provider, and the chain moves on', async () => {
    const released: string[] = [];
    const answers: Partial<Record<ProviderName, () => Promise<unknown>>> = {
      qnn: () => Promise.reject(undefined),
      dml: async () => ({ release: async () => void released.push('dml') }),
    };
    const adapter = new NpuBackendAdapter({
      facts: FACTS.windowsArmQnn,
      sessionFactory: (request) => (answers[request.provider.name]?.() ?? defaultSessionFactory(request)) as Promise<InferenceSession>,
    });
    const session = (await adapter.createSession({ kind: 'path', path: tinyGraph }, { intraOpNumThreads: 1 })) as NpuSession;
    expect(session.provider).toBe('cpu');
    expect(session.rejected).toEqual([
      { provider: 'qnn', stage: 'session', reason: 'undefined' },
      { provider: 'dml', stage: 'session', reason: 'sessionFactory returned an object without run(), createTensor(), not a session for dml' },
    ]);
    expect(released).toEqual(['dml']);
    await session.release();

    const nulls = new NpuBackendAdapter({ facts: FACTS.linuxArm, sessionFactory: () => Promise.reject(null) });
    await expect(nulls.createSession({ kind: 'path', path: tinyGraph })).rejects.toMatchObject({ code: 'backend', message: expect.stringMatching(/cpu \(failed: null\)/) });
  });

  it('model bytes: a SharedArrayBuffer view loads on onnxruntime-node; empty bytes are a ModelLoadError at once', async () => {
    const graph = readFileSync(tinyGraph);
    const shared = new Uint8Array(new SharedArrayBuffer(graph.byteLength));
    shared.set(graph);
    const adapter = new NpuBackendAdapter({ facts: FACTS.windowsArmQnn, sessionFactory: failing({ qnn: QNN_FAIL, dml: DML_FAIL }).factory });
    const session = (await adapter.createSession({ kind: 'bytes', bytes: shared }, { intraOpNumThreads: 1 })) as NpuSession;
    expect(session.provider).toBe('cpu');
    await session.release();

    const { factory, asked } = failing({});
    const empty = new NpuBackendAdapter({ facts: FACTS.linuxArm, sessionFactory: factory });
    await expect(empty.createSession({ kind: 'bytes', bytes: new Uint8Array(0) })).rejects.toMatchObject({ code: 'model-load', message: expect.stringMatching(/empty/) });
    expect(asked).toEqual(['cpu']);
  });

  it('bytes of a graph with external data fail each onnxruntime-node provider with a BackendError that says why', async () => {
    const external = tinyGraph.replace('/tiny/', '/tiny-external/');
    const { factory, asked } = failing({});
    const adapter = new NpuBackendAdapter({ facts: FACTS.linuxArm, sessionFactory: factory });
    const error = await adapter.createSession({ kind: 'bytes', bytes: new Uint8Array(readFileSync(external)) }).catch((e: unknown) => e);
    expect(BackendError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/cpu \(failed: onnxruntime-node cannot open a graph whose tensors are in external data files \(model\.onnx_data\) from bytes; load the model from a folder on disk\.\)/);
    expect(asked).toEqual(['cpu']);
    // From disk, onnxruntime-node finds the data file beside the graph.
    const session = await adapter.createSession({ kind: 'path', path: external }, { intraOpNumThreads: 1 });
    expect(session.outputNames).toContain('logits');
    await session.release();
  });

  it('a graph file that does not exist is a ModelLoadError from the first provider, not one failure per provider', async () => {
    const { factory, asked } = failing({});
    const adapter = new NpuBackendAdapter({ facts: FACTS.windowsArmQnn, sessionFactory: factory });
    const path = `${tinyModel}/onnx/missing.onnx`;
    await expect(adapter.createSession({ kind: 'path', path })).rejects.toMatchObject({ code: 'model-load', path, message: expect.stringMatching(/^Cannot read .*missing\.onnx: ENOENT/) });
    expect(asked).toEqual(['qnn']);
  });

  it('a ModelLoadError from the factory (unreadable file) stops the chain at once', async () => {
    const asked: string[] = [];
    const adapter = new NpuBackendAdapter({
      facts: FACTS.windowsArmQnn,
      sessionFactory: async (r) => {
        asked.push(r.provider.name);
        throw new ModelLoadError('Cannot read x.onnx', { path: 'x.onnx' });
      },
    });
    await expect(adapter.createSession({ kind: 'path', path: 'x.onnx' })).rejects.toMatchObject({ code: 'model-load' });
    expect(asked).toEqual(['qnn']);
  });
});
