import { describe, expect, it } from 'vitest';
import { createWeft, type GenerationEvent } from '@weft/core';
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

describe('a generation unsubscribed while its run waits its turn', () => {
  it('costs no forward pass: the run gets a signal of the generation’s own, aborted on unsubscribe (review 28)', async () => {
    const weft = createWeft({ plugins: [webBackend({ numThreads: 1 })] });
    try {
      const model = await weft.load(tinyModel, { backend: 'web' });
      // Count the passes that reach onnxruntime-web, by their fed length.
      const inner = (model.session as unknown as { session: { run: (...args: unknown[]) => Promise<unknown> } }).session;
      const run = inner.run.bind(inner);
      const fed: number[] = [];
      inner.run = (feeds: unknown, ...rest: unknown[]) => {
        fed.push((feeds as Record<string, { dims: readonly number[] }>)['input_ids']!.dims[1]!);
        return run(feeds, ...rest);
      };
      const prompt = 'Once upon a time, there was a little fox named Theo who lived in the woods';
      const first = new Promise<void>((resolve, reject) => model.generate({ prompt, maxTokens: 3 }).subscribe({ error: reject, complete: resolve }));
      // The second request's first pass is sent (and queued behind the first's) as it starts; it
      // is unsubscribed right after, before its turn comes.
      let started = false;
      const subscription = model.generate({ prompt: 'The cat', maxTokens: 3 }).subscribe({
        next: (event: GenerationEvent) => {
          if (event.type === 'start') started = true;
        },
      });
      await Promise.resolve();
      expect(started).toBe(true);
      subscription.unsubscribe();
      await first;
      const promptLength = model.tokenizer.encode(prompt).length;
      // The first request's three passes only: its prefill, then one token at a time.
      expect(fed).toEqual([promptLength, 1, 1]);
      expect(model.activeRuns).toBe(0);
    } finally {
      await weft.dispose();
    }
  }, 20_000);
});
