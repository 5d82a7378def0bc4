import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BackendError, createWeft, type BackendTensor } from '@weft/core';
import { nodeBackend, NodeSession } from '../src/index.js';

const storyModel = fileURLToPath(new URL('../../../../models/story', import.meta.url));

/** Just enough of an onnxruntime-node session for NodeSession, with a release the test settles. */
function fakeOrtSession() {
  let calls = 0;
  let settle: { resolve: () => void; reject: (e: unknown) => void } | undefined;
  const ortSession = {
    inputNames: [],
    outputNames: [],
    inputMetadata: [],
    outputMetadata: [],
    release: () => {
      calls++;
      return new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    },
  };
  return { session: new NodeSession({} as never, ortSession as never), calls: () => calls, settle: () => settle! };
}

/** Whether `promise` has settled by the time pending callbacks have run. */
async function settledYet(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(() => (settled = true), () => (settled = true));
  await new Promise((r) => setImmediate(r));
  return settled;
}

describe('NodeSession.release', () => {
  it('gives every call the first call\'s release: none resolves before the session is freed', async () => {
    const fake = fakeOrtSession();
    const first = fake.session.release();
    const second = fake.session.release();
    expect(fake.calls()).toBe(1);
    expect(await settledYet(second)).toBe(false);
    fake.settle().resolve();
    await Promise.all([first, second]);
    await fake.session.release();
    expect(fake.calls()).toBe(1);
  });

  it('reports a failed release to every caller, not only the first', async () => {
    const fake = fakeOrtSession();
    const first = fake.session.release();
    const second = fake.session.release();
    fake.settle().reject(new Error('device gone'));
    await expect(first).rejects.toThrow('device gone');
    await expect(second).rejects.toThrow('device gone');
  });

  it('rejects the run in flight when released meanwhile, and later runs with a BackendError, without crashing', async () => {
    const weft = createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: 1 } })] });
    try {
      const model = await weft.load(storyModel);
      const session = model.session as NodeSession;
      const { layout } = model;
      const feeds: Record<string, BackendTensor> = { input_ids: session.createTensor('int64', BigInt64Array.of(1n, 2n), [1, 2]) };
      if (layout.hasAttentionMask) feeds['attention_mask'] = session.createTensor('int64', BigInt64Array.of(1n, 1n), [1, 2]);
      if (layout.hasPositionIds) feeds['position_ids'] = session.createTensor('int64', BigInt64Array.of(0n, 1n), [1, 2]);
      for (const name of [...layout.pastKeyNames, ...layout.pastValueNames]) {
        feeds[name] = session.createTensor('float32', new Float32Array(0), [1, layout.numKvHeads, 0, layout.headDim]);
      }
      expect(Object.keys(await session.run(feeds))).toContain('logits');
      const inFlight = session.run(feeds).then(() => 'ran', (e: unknown) => e);
      await Promise.all([session.release(), session.release(), model.dispose()]);
      // onnxruntime-node runs a session on the main thread, after the call returns: released first, the run fails.
      expect(await inFlight).toBeInstanceOf(Error);
      const after = await session.run(feeds).catch((e: unknown) => e);
      expect(BackendError.isInstance(after)).toBe(true);
      expect((after as Error).message).toMatch(/released; load the model again/);
    } finally {
      await weft.dispose();
    }
  });
});
