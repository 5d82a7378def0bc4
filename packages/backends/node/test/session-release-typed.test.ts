import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BackendError, createWeft, type BackendTensor, type WeftModel } from '@weft/core';
import { nodeBackend } from '../src/index.js';

const storyModel = fileURLToPath(new URL('../../../../models/story', import.meta.url));

describe('a run of a node session that its release overtakes', () => {
  it('model.session.run in flight when the model is disposed rejects with a BackendError naming the backend', async () => {
    const weft = createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: 1 } })] });
    try {
      const model = await weft.load(storyModel);
      const inFlight = model.session.run(prefillFeeds(model)).catch((e: unknown) => e);
      await model.dispose();
      const error = await inFlight;
      // Before: a plain Error('This session was released while it ran; …'), untyped.
      expect(BackendError.isInstance(error)).toBe(true);
      expect((error as BackendError).backend).toBe('node');
      expect((error as Error).message).toMatch(/^This session was released while it ran; load the model again\.$/);
    } finally {
      await weft.dispose();
    }
  });

  it('a stream whose session is released under it (not through dispose) ends with a BackendError at model.text and model.generate', async () => {
    const weft = createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: 1 } })] });
    try {
      const model = await weft.load(storyModel);
      const text = model.text({ prompt: 'Once upon a time', maxTokens: 200, ignoreEos: true }).catch((e: unknown) => e);
      const events = new Promise<unknown>((resolve) => {
        model.generate({ prompt: 'Tom', maxTokens: 200, ignoreEos: true }).subscribe({
          next: (e) => void (e.type === 'token' && e.index === 1 && model.session.release()),
          error: resolve,
          complete: () => resolve('completed'),
        });
      });
      for (const error of [await text, await events]) {
        expect(BackendError.isInstance(error)).toBe(true);
        expect((error as BackendError).backend).toBe('node');
        expect((error as Error).message).toMatch(/This session was released.*; load the model again\./);
      }
    } finally {
      await weft.dispose();
    }
  });
});

/** Feeds for a 2-token prefill of `model`. */
function prefillFeeds(model: WeftModel): Record<string, BackendTensor> {
  const { session, layout } = model;
  const feeds: Record<string, BackendTensor> = { input_ids: session.createTensor('int64', BigInt64Array.of(1n, 2n), [1, 2]) };
  if (layout.hasAttentionMask) feeds['attention_mask'] = session.createTensor('int64', BigInt64Array.of(1n, 1n), [1, 2]);
  if (layout.hasPositionIds) feeds['position_ids'] = session.createTensor('int64', BigInt64Array.of(0n, 1n), [1, 2]);
  for (const name of [...layout.pastKeyNames, ...layout.pastValueNames]) {
    feeds[name] = session.createTensor('float32', new Float32Array(0), [1, layout.numKvHeads, 0, layout.headDim]);
  }
  return feeds;
}
