import { describe, expect, it } from 'vitest';
import { BackendError, createWeft } from '@weft/core';
import { webBackend } from '../src/index.js';
import { storyModel } from './helpers.js';
import { prefillFeeds } from '../../../core/test/prefill-feeds.js';

describe('runs of a web session that its release overtakes', () => {
  it('model.session.run in flight or waiting its turn when the model is disposed rejects with a BackendError naming the backend', async () => {
    const weft = createWeft({ plugins: [webBackend({ numThreads: 1 })] });
    try {
      const model = await weft.load(storyModel, { backend: 'web' });
      const feeds = prefillFeeds(model);
      const running = model.session.run(feeds).catch((e: unknown) => e);
      // Queued behind the first (onnxruntime-web runs one at a time): it never reaches onnxruntime-web.
      const waiting = model.session.run(feeds).catch((e: unknown) => e);
      await model.dispose();
      const [ran, waited] = [await running, await waiting];
      // Before: plain Errors, both saying "released while it ran".
      for (const error of [ran, waited]) {
        expect(BackendError.isInstance(error)).toBe(true);
        expect((error as BackendError).backend).toBe('web');
      }
      expect((ran as Error).message).toBe('This session was released while it ran; load the model again.');
      expect((waited as Error).message).toBe('This session was released before this run started; load the model again.');
    } finally {
      await weft.dispose();
    }
  });

  it('a stream whose session is released under it (not through dispose) ends with a BackendError at model.text', async () => {
    const weft = createWeft({ plugins: [webBackend({ numThreads: 1 })] });
    try {
      const model = await weft.load(storyModel, { backend: 'web' });
      const first = model.text({ prompt: 'Once upon a time', maxTokens: 200, ignoreEos: true }).catch((e: unknown) => e);
      const second = model.text({ prompt: 'Tom', maxTokens: 200, ignoreEos: true }).catch((e: unknown) => e);
      // Both streams sent their first run as they started (onnxruntime-web takes one at a time), so
      // a release now overtakes both. Not after a timer: by then both streams had moved on to runs
      // sent after the release, whose refusal ("This session was released; …") was typed already.
      void model.session.release();
      for (const error of [await first, await second]) {
        expect(BackendError.isInstance(error), String(error)).toBe(true);
        expect((error as BackendError).backend).toBe('web');
        // Before: the plain Error reached the stream wrapped ("The web backend failed: This session was released while it ran; …").
        expect((error as Error).message).toMatch(/^This session was released (while it ran|before this run started); load the model again\.$/);
      }
    } finally {
      await weft.dispose();
    }
  });
});
