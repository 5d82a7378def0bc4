import { describe, expect, it } from 'vitest';
import { NodeBackendAdapter } from '@weft/backend-node';
import {
  AdapterResolutionError,
  createWeft,
  definePlugin,
  InvalidOptionsError,
  ModelLoadError,
  type BackendAdapter,
  type InferenceSession,
} from '../src/index.js';
import { fixture, runtime } from './helpers.js';

/** Counts sessions a wrapped backend opened and released. */
class SessionCount {
  opened = 0;
  released = 0;
  get live(): number {
    return this.opened - this.released;
  }
}

/** A real onnxruntime-node session whose release is counted (once). */
function counted(session: InferenceSession, count: SessionCount): InferenceSession {
  count.opened++;
  let released = false;
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    inputMetadata: session.inputMetadata,
    outputMetadata: session.outputMetadata,
    createTensor: (t, d, dims) => session.createTensor(t, d, dims),
    run: (feeds, o) => session.run(feeds, o),
    async release() {
      if (!released) count.released++;
      released = true;
      await session.release();
    },
  };
}

/**
 * A plugin backend named `broken`, at priority 200 (above node's 100), wrapping onnxruntime-node
 * with parts replaced by `change`.
 */
function brokenBackend(
  change: (inner: NodeBackendAdapter, count: SessionCount) => Partial<Record<keyof BackendAdapter, unknown>> | null,
  create?: () => unknown,
  name = 'broken',
  priority = 200,
) {
  const count = new SessionCount();
  const plugin = definePlugin({
    name: `${name}-backend`,
    version: '1.0.0',
    apiVersion: '^0.1.0',
    setup(ctx) {
      ctx.register('backend', {
        name,
        priority,
        create: (create ?? (() => {
          const inner = new NodeBackendAdapter({ intraOpNumThreads: 1 });
          const base: BackendAdapter = {
            specificationVersion: 'v1',
            name,
            probe: () => inner.probe(),
            createSession: async (source, o) => counted(await inner.createSession(source, o), count),
          };
          return { ...base, ...change(inner, count) };
        })) as () => BackendAdapter,
      });
    },
  });
  return { plugin, count };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('backend selection passes over broken backends', () => {
  it.each([
    ['a probe that throws synchronously', () => ({ probe: () => { throw new Error('kaboom'); } }), /^probe\(\) failed: kaboom$/],
    ['a probe that returns a non-promise non-result', () => ({ probe: () => 'yes' }), /^probe\(\) returned "yes", not \{ available: boolean \}$/],
    ['a probe that rejects', () => ({ probe: () => Promise.reject(new Error('no device')) }), /^probe\(\) failed: no device$/],
    ['a probe that resolves to null', () => ({ probe: async () => null }), /^probe\(\) returned null/],
    ['a probe that never answers', () => ({ probe: () => new Promise(() => {}) }), /^probe\(\) failed: did not answer within 50 ms$/],
    ['an adapter without createSession', () => ({ createSession: undefined }), /^create\(\) returned an object without createSession\(\), not a backend adapter$/],
  ])('%s: loads on node and lists the reason', async (_, change, reason) => {
    const broken = brokenBackend(change);
    const weft = runtime([broken.plugin]);
    try {
      const model = await weft.load(fixture('tiny'), { probeTimeoutMs: 50 });
      expect(model.backend).toBe('node');
      expect(model.rejectedBackends).toEqual([{ name: 'broken', reason: expect.stringMatching(reason) }]);
    } finally {
      await weft.dispose();
    }
  });

  it('accepts a probe that answers synchronously with a valid result', async () => {
    const broken = brokenBackend(() => ({ probe: () => ({ available: true }) }));
    const weft = runtime([broken.plugin]);
    try {
      const model = await weft.load(fixture('tiny'));
      expect(model.backend).toBe('broken');
      expect(broken.count.live).toBe(1);
    } finally {
      await weft.dispose();
    }
    expect(broken.count.live).toBe(0);
  });

  it.each([
    ['returns null', () => null, /^create\(\) returned null, not a backend adapter$/],
    ['throws', () => { throw new RangeError('bad build'); }, /^create\(\) threw: bad build$/],
    ['returns a promise', () => Promise.resolve({}), /^create\(\) returned a promise; create\(\) must return the adapter itself$/],
  ])('an entry whose create() %s is passed over', async (_, create, reason) => {
    const broken = brokenBackend(() => ({}), create);
    const weft = runtime([broken.plugin]);
    try {
      const model = await weft.load(fixture('tiny'));
      expect(model.backend).toBe('node');
      expect(model.rejectedBackends[0]).toEqual({ name: 'broken', reason: expect.stringMatching(reason) });
      // Named explicitly, the same entry fails with an AdapterResolutionError giving that reason.
      const error = await weft.load(fixture('tiny'), { backend: 'broken' }).catch((e: unknown) => e);
      expect(AdapterResolutionError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(/No backend adapter matches "broken": registered: broken \(create\(\) (returned|threw)/);
    } finally {
      await weft.dispose();
    }
  });

  it('lists every broken backend when none is usable', async () => {
    const broken = brokenBackend(() => ({ probe: () => { throw new Error('kaboom'); } }));
    const weft = createWeft({ plugins: [broken.plugin] });
    await expect(weft.load(fixture('tiny'))).rejects.toThrow(/No backend adapter matches auto: registered: broken \(probe\(\) failed: kaboom\)/);
    await weft.dispose();
  });
});

describe('createSession robustness', () => {
  it('times out a createSession that never finishes: auto moves on to node, a named backend fails with ModelLoadError', async () => {
    const broken = brokenBackend(() => ({ createSession: () => new Promise(() => {}) }));
    const weft = runtime([broken.plugin]);
    try {
      const model = await weft.load(fixture('tiny'), { sessionTimeoutMs: 100 });
      expect(model.backend).toBe('node');
      expect(model.rejectedBackends).toEqual([{ name: 'broken', reason: 'createSession() timed out after 100 ms' }]);
      const error = await weft.load(fixture('tiny'), { backend: 'broken', sessionTimeoutMs: 100 }).catch((e: unknown) => e);
      expect(ModelLoadError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(/The broken backend did not open .*model\.onnx within 100 ms; raise sessionTimeoutMs/);
    } finally {
      await weft.dispose();
    }
  });

  it('releases a session that arrives after its timeout', async () => {
    const broken = brokenBackend((inner, count) => ({
      async createSession(source: never, o: never) {
        await sleep(300);
        return counted(await inner.createSession(source, o), count);
      },
    }));
    const weft = runtime([broken.plugin]);
    try {
      const model = await weft.load(fixture('tiny'), { sessionTimeoutMs: 50 });
      expect(model.backend).toBe('node');
      for (let i = 0; i < 100 && broken.count.opened === 0; i++) await sleep(20);
      await sleep(50);
      expect(broken.count.opened).toBe(1);
      expect(broken.count.live).toBe(0);
    } finally {
      await weft.dispose();
    }
  });

  it("reports a plugin backend's own error, not a corrupt file, and moves on under auto", async () => {
    const broken = brokenBackend(() => ({ createSession: () => Promise.reject(new Error('GPU out of memory')) }));
    const weft = runtime([broken.plugin]);
    try {
      const model = await weft.load(fixture('tiny'));
      expect(model.backend).toBe('node');
      expect(model.rejectedBackends).toEqual([{ name: 'broken', reason: 'createSession() failed: GPU out of memory' }]);
      const error = await weft.load(fixture('tiny'), { backend: 'broken' }).catch((e: unknown) => e);
      expect(ModelLoadError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(/^The broken backend could not load .*model\.onnx: GPU out of memory$/);
    } finally {
      await weft.dispose();
    }
  });

  it('calls a parse failure a corrupt file and does not try other backends for it', async () => {
    const broken = brokenBackend(() => ({ createSession: () => { throw new Error('Load model failed:Protobuf parsing failed.'); } }));
    const spare = brokenBackend(() => ({}), undefined, 'spare', 150);
    const weft = createWeft({ plugins: [broken.plugin, spare.plugin] });
    try {
      const error = await weft.load(fixture('tiny')).catch((e: unknown) => e);
      expect(ModelLoadError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(/The broken backend could not load .*model\.onnx \(corrupt or truncated ONNX file\?\): Load model failed:Protobuf parsing failed\./);
      expect(spare.count.opened).toBe(0);
    } finally {
      await weft.dispose();
    }
  });

  it('passes over a createSession that returns something other than a session, releasing what it can', async () => {
    let releases = 0;
    const broken = brokenBackend(() => ({ createSession: async () => ({ release: async () => void releases++ }) }));
    const weft = runtime([broken.plugin]);
    try {
      const model = await weft.load(fixture('tiny'));
      expect(model.backend).toBe('node');
      expect(model.rejectedBackends[0]?.reason).toBe('createSession() returned an object without run(), createTensor(), not a session');
      expect(releases).toBe(1);
    } finally {
      await weft.dispose();
    }
  });
});

describe('load timeouts', () => {
  it.each([
    [{ probeTimeoutMs: 0 }, /probeTimeoutMs must be a whole number of milliseconds from 1 to 2147483647 \(got 0\)/],
    [{ probeTimeoutMs: 1.5 }, /probeTimeoutMs must be a whole number/],
    [{ sessionTimeoutMs: -5 }, /sessionTimeoutMs must be a whole number .*\(got -5\)/],
    [{ sessionTimeoutMs: '100' }, /sessionTimeoutMs must be a whole number .*\(got "100"\)/],
    [{ sessionTimeoutMs: 2 ** 31 }, /sessionTimeoutMs must be a whole number/],
  ])('rejects %j with an InvalidOptionsError before reading the folder', async (options, message) => {
    const weft = runtime();
    const error = await weft.load('/definitely/not/here', options as never).catch((e: unknown) => e);
    expect(InvalidOptionsError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(message);
    await weft.dispose();
  });
});
