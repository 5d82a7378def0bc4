import { afterAll, describe, expect, it } from 'vitest';
import { attentionRouters, sinkWindow } from '../../plugins/attention/src/index.js';
import type { AttentionRouter, GenerationEvent, StartEvent, WeftModel } from '../src/index.js';
import { collect, done, fixture, runtime } from './helpers.js';

// An application developer's walkthrough: the done event had no duration, so the tokens/s `weft
// demo` prints could not be computed from it; the start event named the KV store but not the
// router, so nobody could confirm a router was active.

const runtimes: ReturnType<typeof runtime>[] = [];
afterAll(() => Promise.all(runtimes.map((w) => w.dispose())));

async function tiny(plugins: Parameters<typeof runtime>[0] = []): Promise<WeftModel> {
  const weft = runtime(plugins);
  runtimes.push(weft);
  return weft.load(fixture('tiny'));
}

const start = (events: readonly GenerationEvent[]): StartEvent => {
  const first = events[0];
  if (first?.type !== 'start') throw new Error(`expected a start event first, got ${first?.type}`);
  return first;
};

describe('the done event', () => {
  it('gives the run\'s duration, from which tokens/s follows', async () => {
    const model = await tiny();
    const events = await collect(model.generate({ prompt: 'Once upon a time', maxTokens: 8, ignoreEos: true }));
    const finished = done(events);
    expect(finished.usage.completionTokens).toBe(8);
    expect(Number.isFinite(finished.durationMs)).toBe(true);
    // From the start of the run (the origin of ttftMs) to the done event: it holds the first token and every step.
    expect(finished.durationMs).toBeGreaterThanOrEqual(finished.ttftMs);
    let steps = 0;
    for (const e of events) if (e.type === 'metrics') steps += e.forwardMs + e.kvMs + e.samplingMs + e.detokenizeMs;
    expect(finished.durationMs).toBeGreaterThanOrEqual(steps);
    const perSecond = (finished.usage.completionTokens / finished.durationMs) * 1000;
    expect(perSecond).toBeGreaterThan(0);
    expect(Number.isFinite(perSecond)).toBe(true);
  });

  it('gives it when the run is aborted before any token too', async () => {
    const model = await tiny();
    const controller = new AbortController();
    controller.abort();
    const finished = done(await collect(model.generate({ prompt: 'Once', maxTokens: 4, signal: controller.signal })));
    expect(finished.finishReason).toBe('abort');
    expect(finished.durationMs).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(finished.durationMs)).toBe(true);
  });
});

describe('the start event', () => {
  it('has no router when the run has none', async () => {
    const model = await tiny();
    const first = start(await collect(model.generate({ prompt: 'Once', maxTokens: 2 })));
    expect(first.kv).toBe('fp32');
    expect(first.router).toBeUndefined();
  });

  it('names the router a request names, or passes', async () => {
    const model = await tiny([attentionRouters()]);
    expect(start(await collect(model.generate({ prompt: 'Once', maxTokens: 2, router: 'sink-window' }))).router).toBe('sink-window');
    expect(start(await collect(model.generate({ prompt: 'Once', maxTokens: 2, router: { name: 'window', options: { budget: 8 } } }))).router).toBe('window');
    const mine = { name: 'keep-everything', select: () => undefined } as unknown as AttentionRouter;
    expect(start(await collect(model.generate({ prompt: 'Once', maxTokens: 2, router: mine }))).router).toBe('keep-everything');
  });

  it("names the runtime's default router, which a request that names none gets", async () => {
    const model = await tiny([sinkWindow({ window: 16 })]);
    const first = start(await collect(model.generate({ prompt: 'Once', maxTokens: 2 })));
    expect(first.router).toBe('sink-window');
    expect(first.kv).toBe('fp32');
  });
});

describe('the start event says how many tokens a row may generate', () => {
  it('maxTokens as asked when it fits the context, capped when the prompt leaves less room', async () => {
    const model = await tiny();
    expect(start(await collect(model.generate({ inputIds: [1, 2, 3], maxTokens: 5 }))).maxTokens).toBe(5);
    // The tiny model's context is 256: a 250-id prompt leaves 6.
    const long = Array.from({ length: 250 }, (_, i) => 1 + (i % 50));
    const events = await collect(model.generate({ inputIds: long, maxTokens: 100, ignoreEos: true }));
    expect(start(events).maxTokens).toBe(6);
    expect(done(events)).toMatchObject({ finishReason: 'length', usage: { completionTokens: 6 } });
  });
});
