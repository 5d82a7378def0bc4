import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { BackendError, createWeft, InvalidOptionsError, ModelLoadError, type InferenceSession } from '@weft/core';
import { NpuBackendAdapter, NpuSession, defaultSessionFactory, npuBackend, type NpuEvent, type NpuSessionFactory, type ProviderName } from '../src/index.js';
import { FACTS, tinyGraph, tinyModel } from './helpers.js';

/**
 * A stand-in for what an injected factory returns (as onnxruntime-react-native would), counting
 * its releases. It never runs anything: runs on the chain's last link are real CPU sessions.
 */
function fakeSession(extra: Record<string, unknown> = {}): InferenceSession & { releases: number } {
  const session = {
    releases: 0,
    inputNames: [],
    outputNames: [],
    inputMetadata: [],
    outputMetadata: [],
    createTensor: () => {
      throw new Error('not used');
    },
    run: () => Promise.reject(new Error('not used')),
    release: async () => void session.releases++,
    ...extra,
  };
  return session as unknown as InferenceSession & { releases: number };
}

const steps = (events: readonly NpuEvent[]) => events.map((e) => `${e.type}${'provider' in e ? ` ${e.provider}` : ''}`);

describe('npu chain: what a provider leaves behind, and the events it gets', () => {
  it('a ModelLoadError ends the chain after a provider-failed event, so every attempt has its outcome', async () => {
    const adapter = new NpuBackendAdapter({ facts: FACTS.windowsArmQnn });
    const path = tinyGraph.replace('model.onnx', 'missing.onnx');
    await expect(adapter.createSession({ kind: 'path', path })).rejects.toMatchObject({ code: 'model-load' });
    expect(steps(adapter.events)).toEqual(['plan', 'provider-attempt qnn', 'provider-failed qnn']);
    expect(adapter.events.at(-1)).toMatchObject({ reason: expect.stringMatching(/^Cannot read .*missing\.onnx: ENOENT/), error: expect.any(ModelLoadError) });
  });

  it('a session whose fields cannot be read is released, and the chain moves on', async () => {
    const hostile = fakeSession();
    Object.defineProperty(hostile, 'inputNames', {
      get() {
        throw new Error('detached');
      },
    });
    const adapter = new NpuBackendAdapter({
      facts: FACTS.windowsArmQnn,
      providers: ['qnn'],
      sessionFactory: (r) => (r.provider.name === 'qnn' ? Promise.resolve(hostile) : defaultSessionFactory(r)),
    });
    const session = (await adapter.createSession({ kind: 'path', path: tinyGraph }, { intraOpNumThreads: 1 })) as NpuSession;
    expect(session.provider).toBe('cpu');
    expect(session.rejected).toEqual([{ provider: 'qnn', stage: 'session', reason: 'sessionFactory returned a session that could not be read (detached) for qnn' }]);
    expect(hostile.releases).toBe(1);
    await session.release();
  });

  it('a session without inputMetadata/outputMetadata lists is not a session: released, next provider', async () => {
    const partial = fakeSession({ inputMetadata: undefined });
    const adapter = new NpuBackendAdapter({ facts: FACTS.macArm, sessionFactory: (r) => (r.provider.name === 'coreml' ? Promise.resolve(partial) : defaultSessionFactory(r)) });
    const session = (await adapter.createSession({ kind: 'path', path: tinyGraph }, { intraOpNumThreads: 1 })) as NpuSession;
    expect(session.provider).toBe('cpu');
    expect(session.rejected[0]?.reason).toBe('sessionFactory returned a session without inputMetadata and outputMetadata lists for coreml');
    expect(partial.releases).toBe(1);
    await session.release();
  });

  it('providerTimeoutMs: a provider that never answers fails, the chain moves on, and its late session is released', async () => {
    let arrive: (s: InferenceSession) => void = () => {};
    const late = fakeSession();
    const asked: ProviderName[] = [];
    // The CPU session (a real onnxruntime-node one) is opened beforehand and handed over already
    // made, so the 1 ms bound cannot catch it however loaded the machine is (it did, now and then).
    const cpu = (await new NpuBackendAdapter({ facts: FACTS.windowsArmQnn }).plan()).chain.find((p) => p.name === 'cpu')!;
    const ready = await defaultSessionFactory({ provider: cpu, source: { kind: 'path', path: tinyGraph }, options: { intraOpNumThreads: 1 }, requireFullOffload: false });
    const factory: NpuSessionFactory = (r) => {
      asked.push(r.provider.name);
      if (r.provider.name === 'qnn') return new Promise<InferenceSession>((resolve) => (arrive = resolve));
      if (r.provider.name === 'dml') return Promise.reject(new Error('no DirectML adapter'));
      return Promise.resolve(ready);
    };
    const adapter = new NpuBackendAdapter({ facts: FACTS.windowsArmQnn, sessionFactory: factory, providerTimeoutMs: 1 });
    const session = (await adapter.createSession({ kind: 'path', path: tinyGraph }, { intraOpNumThreads: 1 })) as NpuSession;
    expect(asked).toEqual(['qnn', 'dml', 'cpu']);
    expect(session.provider).toBe('cpu');
    expect(session.rejected).toEqual([
      { provider: 'qnn', stage: 'session', reason: 'qnn did not open a session within providerTimeoutMs (1 ms)' },
      { provider: 'dml', stage: 'session', reason: 'no DirectML adapter' },
    ]);
    expect(adapter.events.find((e) => e.type === 'provider-failed')).toMatchObject({ provider: 'qnn', error: expect.any(BackendError) });
    arrive(late);
    await new Promise((resolve) => setImmediate(resolve));
    expect(late.releases).toBe(1);
    await session.release();
  });

  it('an event listener cannot change the ort object the session factory (and so onnxruntime) receives', async () => {
    const received: unknown[] = [];
    const adapter = new NpuBackendAdapter({
      facts: FACTS.windowsArmQnn,
      providers: ['qnn'],
      fallback: 'none',
      onEvent: (e) => {
        if (e.type !== 'provider-attempt') return;
        try {
          (e.ort as { backendType?: string }).backendType = 'saver';
        } catch {
          // frozen
        }
      },
      sessionFactory: async (r) => {
        received.push({ ...r.provider.ort });
        throw new Error('no QNN here');
      },
    });
    await expect(adapter.createSession({ kind: 'path', path: tinyGraph })).rejects.toThrow(/qnn \(failed: no QNN here\)/);
    expect(received).toEqual([{ name: 'qnn', backendType: 'htp', enableFp16Precision: true }]);
  });
});

describe('npu chain: listeners', () => {
  let warn: MockInstance<typeof console.warn>;
  beforeEach(() => {
    warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  });
  afterEach(() => {
    warn.mockRestore();
  });

  it('a listener that throws on provider-selected does not fail the load: the session made is returned, unreleased, and the failure is warned about once', async () => {
    const made = fakeSession();
    const broken = new Error('listener broke');
    const adapter = new NpuBackendAdapter({
      facts: FACTS.macArm,
      sessionFactory: async () => made,
      onEvent: (e) => {
        if (e.type === 'provider-selected') throw broken;
      },
    });
    const session = (await adapter.createSession({ kind: 'path', path: tinyGraph })) as NpuSession;
    expect(session.inner).toBe(made);
    expect(made.releases).toBe(0);
    expect(steps(adapter.events)).toEqual(['plan', 'provider-attempt coreml', 'provider-selected coreml']);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/^@weft\/backend-npu: the onEvent listener failed on a "provider-selected" event \(listener broke\)\. The event is still in adapter\.events and the load went on/), broken);
    await session.release();
    expect(made.releases).toBe(1);
  });

  it('a listener that throws on every event changes nothing in the chain: same providers tried, same events, one warning for the load', async () => {
    const run = async (onEvent?: (e: NpuEvent) => void) => {
      const asked: ProviderName[] = [];
      const made = fakeSession();
      const adapter = new NpuBackendAdapter({
        facts: FACTS.windowsArmQnn,
        ...(onEvent ? { onEvent } : {}),
        sessionFactory: async (r) => {
          asked.push(r.provider.name);
          if (r.provider.name === 'qnn') throw new Error('no QNN here');
          return made;
        },
      });
      const session = (await adapter.createSession({ kind: 'path', path: tinyGraph })) as NpuSession;
      return { asked, made, session, events: steps(adapter.events) };
    };
    const quiet = await run();
    const seen: string[] = [];
    const loud = await run((e) => {
      seen.push(e.type);
      throw new Error(`no ${e.type}`);
    });
    expect(loud.asked).toEqual(quiet.asked);
    expect(loud.events).toEqual(quiet.events);
    expect(loud.events).toEqual(['plan', 'provider-attempt qnn', 'provider-failed qnn', 'provider-attempt dml', 'provider-selected dml']);
    expect(seen).toEqual(['plan', 'provider-attempt', 'provider-failed', 'provider-attempt', 'provider-selected']); // still called for each
    expect(loud.session.inner).toBe(loud.made);
    expect(loud.made.releases).toBe(0);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toMatch(/failed on a "plan" event \(no plan\)/);
  });

  it('a listener that throws on exhausted: the load still fails with its own BackendError; each load warns once', async () => {
    const adapter = new NpuBackendAdapter({
      facts: FACTS.macArm,
      sessionFactory: async () => {
        throw new Error('nothing loads');
      },
      onEvent: (e) => {
        if (e.type === 'exhausted') throw new Error('listener broke');
      },
    });
    for (let load = 1; load <= 2; load++) {
      const error = await adapter.createSession({ kind: 'path', path: tinyGraph }).catch((e: unknown) => e);
      expect(BackendError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(/^No execution provider of the npu backend could load .*coreml \(failed: nothing loads\); cpu \(failed: nothing loads\)$/);
      expect(adapter.events.at(-1)).toMatchObject({ type: 'exhausted' });
      expect(warn).toHaveBeenCalledTimes(load);
    }
  });

  it('a listener whose promise rejects (an async listener) does not fail the load, and the rejection is warned about, not left unhandled', async () => {
    const made = fakeSession();
    const adapter = new NpuBackendAdapter({
      facts: FACTS.macArm,
      sessionFactory: async () => made,
      onEvent: async (e) => {
        if (e.type === 'provider-attempt') throw new Error('async listener broke');
      },
    });
    const session = (await adapter.createSession({ kind: 'path', path: tinyGraph })) as NpuSession;
    expect(session.inner).toBe(made);
    await new Promise((resolve) => setImmediate(resolve));
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toMatch(/failed on a "provider-attempt" event \(async listener broke\)/);
    await session.release();
  });

  it('a listener that throws a Weft error (an InvalidOptionsError) does not end the load either', async () => {
    const adapter = new NpuBackendAdapter({
      facts: FACTS.linuxArm,
      onEvent: () => {
        throw new InvalidOptionsError('not from a provider', { option: 'onEvent' });
      },
    });
    const session = (await adapter.createSession({ kind: 'path', path: tinyGraph }, { intraOpNumThreads: 1 })) as NpuSession;
    expect(session.provider).toBe('cpu');
    expect(warn).toHaveBeenCalledTimes(1);
    await session.release();
  });

  it('through weft.load: a listener that throws on every event still loads the model on the npu backend, and it generates', async () => {
    const weft = createWeft({
      plugins: [
        npuBackend({
          facts: FACTS.windowsArmQnn,
          sessionFactory: (r) => (r.provider.name === 'cpu' ? defaultSessionFactory(r) : Promise.reject(new Error(`no ${r.provider.name}`))),
          onEvent: () => {
            throw new Error('listener broke');
          },
          defaults: { intraOpNumThreads: 1 },
        }),
      ],
    });
    const model = await weft.load(tinyModel, { backend: 'npu' });
    expect(model.backend).toBe('npu');
    expect(await model.text({ prompt: 'Once upon a time', maxTokens: 3, temperature: 0 })).toEqual(expect.any(String));
    expect(warn).toHaveBeenCalledTimes(1);
    await weft.dispose();
  });
});

describe('NpuSession', () => {
  it('releases the provider session once, whatever that session does on a second call; runs after release fail', async () => {
    let releases = 0;
    const inner = fakeSession({
      release: () => {
        releases++;
        return releases > 1 ? Promise.reject(new Error('double free')) : Promise.resolve();
      },
    });
    const session = new NpuSession(inner, 'qnn', 'npu', []);
    const first = session.release();
    expect(session.release()).toBe(first);
    await first;
    await session.release();
    expect(releases).toBe(1);
    await expect(session.run({})).rejects.toMatchObject({ code: 'backend', message: /released/ });
  });

  it("forwards the provider session's watchesRunSignal (Weft then gives its runs a signal of the generation's own)", () => {
    expect(new NpuSession(fakeSession({ watchesRunSignal: true }), 'webnn', 'npu', []).watchesRunSignal).toBe(true);
    expect(new NpuSession(fakeSession(), 'nnapi', 'npu', []).watchesRunSignal).toBe(false);
  });

  it("forwards the provider session's garbageCollectedTensors (Weft then drops its tensors instead of disposing each)", async () => {
    expect(new NpuSession(fakeSession({ garbageCollectedTensors: true }), 'webnn', 'npu', []).garbageCollectedTensors).toBe(true);
    expect(new NpuSession(fakeSession(), 'nnapi', 'npu', []).garbageCollectedTensors).toBe(false);
    // onnxruntime-node's sessions, on any provider, return outputs as JavaScript arrays.
    const onCpu = (await new NpuBackendAdapter({ facts: FACTS.linuxArm }).createSession({ kind: 'path', path: tinyGraph }, { intraOpNumThreads: 1 })) as NpuSession;
    expect(onCpu.inner.garbageCollectedTensors).toBe(true);
    expect(onCpu.garbageCollectedTensors).toBe(true);
    // The onnxruntime-node session's own release is idempotent the same way.
    const first = onCpu.inner.release();
    expect(onCpu.inner.release()).toBe(first);
    await first;
  });
});
