import { afterAll, describe, expect, it } from 'vitest';
import { take } from 'rxjs';
import { FullPrecisionKvStore, type BackendTensor } from '../src/index.js';
import { collect, fixture, runtime, wrappedNodeBackend } from './helpers.js';

/** Wraps the node backend and tracks every tensor created by or returned to the loop. */
function countingBackend(garbageCollectedTensors?: boolean) {
  const live = new Set<BackendTensor>();
  let released = 0;
  let disposeCalls = 0;
  const plugin = wrappedNodeBackend({
    name: 'counting',
    priority: 1000,
    liveTensors: live,
    onTensorDisposed: () => disposeCalls++,
    onRelease: () => released++,
    ...(garbageCollectedTensors === undefined ? {} : { garbageCollectedTensors }),
  });
  return { plugin, live, released: () => released, disposeCalls: () => disposeCalls };
}

describe('resource release', () => {
  const counting = countingBackend();
  const weft = runtime([counting.plugin]);
  afterAll(() => weft.dispose());

  it('disposes every tensor of a completed, an aborted, an unsubscribed and a failed run', async () => {
    const model = await weft.load(fixture('tiny'));
    expect(model.backend).toBe('counting');
    // The zero-length past tensors of a run's first step are made once per session and batch size
    // and shared by later runs; everything else must be gone when a run ends.
    const isSharedEmpty = (t: BackendTensor): boolean => t.data.length === 0 && t.dims[2] === 0;
    const leaked = (): BackendTensor[] => [...counting.live].filter((t) => !isSharedEmpty(t));
    const perBatchSize = model.layout.pastKeyNames.length + model.layout.pastValueNames.length;

    await collect(model.generate({ prompt: ['a', 'bb'], maxTokens: 8 }));
    expect(leaked()).toEqual([]);
    expect(counting.live.size).toBe(perBatchSize);

    const controller = new AbortController();
    controller.abort();
    await collect(model.generate({ prompt: 'a', maxTokens: 8, signal: controller.signal }));
    expect(leaked()).toEqual([]);

    await collect(model.generate({ prompt: 'a', maxTokens: 50 }).pipe(take(4)));
    await new Promise((r) => setTimeout(r, 50)); // the in-flight step finishes, then the loop exits
    expect(leaked()).toEqual([]);

    const failing = { name: 'fail', process: () => { throw new Error('no'); } };
    await expect(collect(model.generate({ prompt: 'a', maxTokens: 8, processors: [failing] }))).rejects.toThrow(/failed in logits processor/);
    expect(leaked()).toEqual([]);
    // A store that fails to take a step's keys and values: the loop still holds them and releases them.
    const refusing = new FullPrecisionKvStore();
    refusing.append = () => {
      throw new Error('full');
    };
    await expect(collect(model.generate({ prompt: 'a', maxTokens: 8, kv: refusing }))).rejects.toThrow(/failed in kv append/);
    expect(leaked()).toEqual([]);

    // Batch sizes 2 and 1 were used: two shared sets, however many runs.
    await collect(model.generate({ prompt: 'a', maxTokens: 4 }));
    expect(counting.live.size).toBe(2 * perBatchSize);

    await model.dispose();
    expect(counting.released()).toBe(1);
  });

  it('releases the session when the graph does not match the config', async () => {
    const before = counting.released();
    const { cp, mkdtemp, readFile, writeFile, rm } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'weft-release-'));
    await cp(fixture('tiny'), dir, { recursive: true });
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, num_hidden_layers: 5 }));
    await expect(weft.load(dir)).rejects.toThrow(/config\.json says num_hidden_layers = 5/);
    expect(counting.released()).toBe(before + 1);
    await rm(dir, { recursive: true, force: true });
  });

  it('leaves the tensors of a session that declares them garbage-collected to the collector, with the same results', async () => {
    const collected = countingBackend(true);
    const gc = runtime([collected.plugin]);
    try {
      const model = await gc.load(fixture('tiny'));
      const reference = await weft.load(fixture('tiny'));
      const request = { prompt: ['a', 'bb'], maxTokens: 8 };
      const ids = (events: Awaited<ReturnType<typeof collect>>) => events.filter((e) => e.type === 'token').map((e) => (e.type === 'token' ? e.id : -1));
      const before = collected.live.size;
      expect(ids(await collect(model.generate(request)))).toEqual(ids(await collect(reference.generate(request))));
      // Inputs, outputs and the store's past: none disposed (the store was told through begin()).
      expect(collected.live.size).toBeGreaterThan(before + 8 * 3);
      expect(collected.disposeCalls()).toBe(0);
      const live = collected.live.size;
      const inputIds = model.tokenizer.encode('the cat sat on the mat');
      const request2 = { inputIds, prefillTokens: 3 };
      expect((await model.evaluate(request2)).perplexity).toBeCloseTo((await reference.evaluate(request2)).perplexity, 4);
      expect(collected.live.size).toBeGreaterThan(live);
      expect(collected.disposeCalls()).toBe(0);
      // The ordinary session of the same test disposes (so the counter counts).
      expect(counting.disposeCalls()).toBeGreaterThan(0);
      await reference.dispose();
    } finally {
      await gc.dispose();
    }
  });
});
