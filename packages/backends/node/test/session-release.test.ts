import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BackendError, createWeft, ModelDisposedError } from '@weft/core';
import { nodeBackend, NodeSession } from '../src/index.js';
import { prefillFeeds } from '../../../core/test/prefill-feeds.js';

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

  it('waits for the run in flight: onnxruntime finishes it, then the session is freed once; later runs get a BackendError', async () => {
    const weft = createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: 1 } })] });
    try {
      const model = await weft.load(storyModel);
      const session = model.session as NodeSession;
      const feeds = prefillFeeds(model);
      expect(Object.keys(await session.run(feeds))).toContain('logits');
      const ort = watchOrt(session);
      const inFlight = session.run(feeds).then(() => 'resolved', (e: unknown) => e);
      const release = session.release();
      expect(session.release()).toBe(release);
      // Asked for after the release began: refused, and never reaches onnxruntime.
      const after = await session.run(feeds).catch((e: unknown) => e);
      expect(BackendError.isInstance(after)).toBe(true);
      expect((after as Error).message).toMatch(/released; load the model again/);
      await Promise.all([release, model.dispose()]);
      // Before: onnxruntime freed the session first and then failed the run ("Session already disposed.").
      expect(ort.log).toEqual(['run finished', 'release']);
      expect(ort.runs()).toBe(1);
      // The run was let finish, but it fails for its caller, as a web session's does.
      const outcome = await inFlight;
      expect(outcome).toBeInstanceOf(Error);
      expect((outcome as Error).message).toMatch(/released while it ran/);
      expect(session.release()).toBe(release);
      await session.release();
      expect(ort.log).toEqual(['run finished', 'release']);
    } finally {
      await weft.dispose();
    }
  });

  it('lets a stream\'s run in flight finish when another stream disposes the model, which ends it with ModelDisposedError', async () => {
    const weft = createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: 1 } })] });
    try {
      const model = await weft.load(storyModel);
      const ort = watchOrt(model.session as NodeSession);
      const ended = (prompt: string, onToken?: (index: number) => void): Promise<unknown> =>
        new Promise((resolve) =>
          model.generate({ prompt, maxTokens: 50, ignoreEos: true }).subscribe({
            next: (e) => e.type === 'token' && onToken?.(e.index),
            error: resolve,
            complete: () => resolve('completed'),
          }),
        );
      // The two streams take turns: as the first handles its 3rd token, the second's run is queued in onnxruntime.
      let disposed: Promise<void> | undefined;
      const first = ended('Once upon a time', (index) => void (index === 2 && (disposed ??= model.dispose())));
      const second = ended('Tom');
      const [a, b] = await Promise.all([first, second]);
      await disposed;
      for (const error of [a, b]) expect(ModelDisposedError.isInstance(error)).toBe(true);
      // No run failed inside onnxruntime: the session was freed after the one in flight finished.
      expect(ort.log.filter((entry) => entry !== 'run finished')).toEqual(['release']);
      expect(ort.log.at(-1)).toBe('release');
    } finally {
      await weft.dispose();
    }
  });
});

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
      // model.text's run is in flight when the other stream's handler releases the session; the
      // generate stream's next run finds it released. Each stream ends with the session's own
      // BackendError. Before, the overtaken run's plain Error reached the stream wrapped: "The node
      // backend failed: This session was released while it ran; …".
      const [overtaken, refused] = [await text, await events];
      for (const error of [overtaken, refused]) {
        expect(BackendError.isInstance(error), String(error)).toBe(true);
        expect((error as BackendError).backend).toBe('node');
        expect((error as Error).message).toMatch(/^This session was released( while it ran)?; load the model again\.$/);
      }
    } finally {
      await weft.dispose();
    }
  });
});


/** Logs what onnxruntime's own session does from now on: each run's outcome, and each release. */
function watchOrt(session: NodeSession) {
  const ortSession = session.ortSession;
  const log: string[] = [];
  let runs = 0;
  const run = ortSession.run.bind(ortSession);
  const release = ortSession.release.bind(ortSession);
  (ortSession as { run: unknown }).run = (...args: Parameters<typeof run>) => {
    runs++;
    const outputs = run(...args);
    outputs.then(() => log.push('run finished'), (e: unknown) => log.push(`run failed: ${(e as Error).message}`));
    return outputs;
  };
  (ortSession as { release: unknown }).release = () => {
    log.push('release');
    return release();
  };
  return { log, runs: () => runs };
}
