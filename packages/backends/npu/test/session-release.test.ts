import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BackendError, type BackendTensor, type InferenceSession } from '@weft/core';
import { defaultSessionFactory } from '../src/index.js';

const storyModel = fileURLToPath(new URL('../../../../models/story', import.meta.url));
const cpu = { name: 'cpu', device: 'cpu', runtime: 'onnxruntime-node', options: { name: 'cpu' }, ort: { name: 'cpu' } } as const;

describe('the onnxruntime-node session of the npu chain (real CPU session on models/story)', () => {
  it('release waits for the run in flight, frees the session once, and refuses later runs', async () => {
    const session: InferenceSession = await defaultSessionFactory({
      source: { kind: 'path', path: `${storyModel}/onnx/model.onnx` },
      provider: cpu,
      options: { intraOpNumThreads: 1 },
      requireFullOffload: false,
    } as never);
    const ort = (session as unknown as { session: { run: (...a: unknown[]) => Promise<unknown>; release: () => Promise<void> } }).session;
    const log: string[] = [];
    const run = ort.run.bind(ort);
    const release = ort.release.bind(ort);
    ort.run = (...args: unknown[]) => run(...args).then((o) => (log.push('run finished'), o), (e: Error) => (log.push(`run failed: ${e.message}`), Promise.reject(e)));
    ort.release = () => (log.push('release'), release());

    const feeds = prefillFeeds(session);
    const inFlight = session.run(feeds).then(() => 'resolved', (e: Error) => `${BackendError.isInstance(e) ? `BackendError (${e.backend}): ` : ''}${e.message}`);
    const released = session.release();
    expect(session.release()).toBe(released);
    const after = await session.run(feeds).catch((e: unknown) => e);
    expect(BackendError.isInstance(after)).toBe(true);
    await released;
    // Before: onnxruntime freed the session first, then failed the run ("Session already disposed.").
    expect(log).toEqual(['run finished', 'release']);
    expect(await inFlight).toMatch(/^BackendError \(npu\): This session was released while it ran/);
  });
});

/** A 2-token prefill with an empty past, its shapes read from the session's inputs. */
function prefillFeeds(session: InferenceSession): Record<string, BackendTensor> {
  const feeds: Record<string, BackendTensor> = {};
  for (const meta of session.inputMetadata) {
    if (meta.name === 'input_ids') feeds[meta.name] = session.createTensor('int64', BigInt64Array.of(1n, 2n), [1, 2]);
    else if (meta.name === 'attention_mask') feeds[meta.name] = session.createTensor('int64', BigInt64Array.of(1n, 1n), [1, 2]);
    else if (meta.name === 'position_ids') feeds[meta.name] = session.createTensor('int64', BigInt64Array.of(0n, 1n), [1, 2]);
    else {
      const shape = meta.shape ?? [];
      const dims = [1, Number(shape[1]), 0, Number(shape[3])];
      feeds[meta.name] = session.createTensor('float32', new Float32Array(0), dims);
    }
  }
  return feeds;
}
