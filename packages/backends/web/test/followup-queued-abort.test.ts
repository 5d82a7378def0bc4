import { describe, expect, it } from 'vitest';
import { createWeft } from '@weft/core';
import { webBackend } from '../src/index.js';
import { tinyModel } from './helpers.js';
import { prefillFeeds } from '../../../core/test/prefill-feeds.js';

/**
 * onnxruntime-web runs one session at a time, so a run sent while another is going waits its
 * turn. A run whose signal aborts while it waits is refused when its turn comes, with the
 * signal's reason; before, the signal was read only when `run` was called, and the run went on.
 */
describe('a web run aborted while it waits its turn', () => {
  it('rejects with the signal\'s reason when its turn comes; the runs around it are untouched', async () => {
    const weft = createWeft({ plugins: [webBackend({ numThreads: 1 })] });
    try {
      const model = await weft.load(tinyModel, { backend: 'web' });
      const feeds = prefillFeeds(model);
      const first = model.session.run(feeds);
      const controller = new AbortController();
      // Queued behind the first run.
      const queued = model.session.run(feeds, { signal: controller.signal }).then(() => 'ran', (e: unknown) => e);
      const after = model.session.run(feeds);
      const reason = new Error('no longer wanted');
      controller.abort(reason);
      expect(await queued).toBe(reason);
      expect((await first)['logits']?.dims[2]).toBe(model.config.vocabSize);
      expect((await after)['logits']?.dims[2]).toBe(model.config.vocabSize);
      // A signal aborted before the call is refused at once, as before.
      await expect(model.session.run(feeds, { signal: controller.signal })).rejects.toBe(reason);
    } finally {
      await weft.dispose();
    }
  }, 20_000);
});
